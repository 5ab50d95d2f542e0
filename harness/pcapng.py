"""A small pcapng writer: raw IPv4/TCP packets and a TLS key log in one file.

Only what a capture of one synthetic TCP connection needs: a Section Header Block,
one Interface Description Block (LINKTYPE_RAW: each packet starts at the IPv4
header), a Decryption Secrets Block holding the NSS key log (so Wireshark and
tshark decrypt the file with no other step), and Enhanced Packet Blocks.
Little-endian throughout; format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

LINKTYPE_RAW = 101  # packets begin with the IP header
SECRETS_TLS_KEYLOG = 0x544C534B  # "TLSK": NSS key log lines

_SHB, _IDB, _EPB, _DSB = 0x0A0D0D0A, 0x00000001, 0x00000006, 0x0000000A
_OPT_END, _OPT_COMMENT, _SHB_USERAPPL, _IF_NAME = 0, 1, 4, 2

TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x08, 0x10
IP_HEADER, TCP_HEADER = 20, 20
MAX_PAYLOAD = 0xFFFF - IP_HEADER - TCP_HEADER  # what one IPv4 packet can carry


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: list[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    out = b"".join(struct.pack("<HH", code, len(value)) + _pad4(value) for code, value in options)
    return out + struct.pack("<HH", _OPT_END, 0)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)  # type, length, body, length again; body is already padded
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def section_header(comment: str = "", application: str = "") -> bytes:
    opts = [(_OPT_COMMENT, comment.encode())] if comment else []
    opts += [(_SHB_USERAPPL, application.encode())] if application else []
    # byte-order magic, version 1.0, section length -1 (not given)
    return _block(_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _options(opts))


def interface_description(linktype: int = LINKTYPE_RAW, name: str = "lo") -> bytes:
    # snaplen 0: no limit; timestamps in the default resolution, microseconds
    return _block(_IDB, struct.pack("<HHI", linktype, 0, 0) + _options([(_IF_NAME, name.encode())]))


def decryption_secrets(keylog: str, secrets_type: int = SECRETS_TLS_KEYLOG) -> bytes:
    data = keylog.encode()
    return _block(_DSB, struct.pack("<II", secrets_type, len(data)) + _pad4(data))


def enhanced_packet(data: bytes, micros: int, comment: str = "") -> bytes:
    head = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(data), len(data))
    return _block(_EPB, head + _pad4(data) + _options([(_OPT_COMMENT, comment.encode())] if comment else []))


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): ones' complement of the ones' complement sum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True)
class Segment:
    """One TCP segment of a connection between two IPv4 addresses."""

    src: bytes  # 4-byte IPv4 address
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes = b""
    ident: int = 0  # the IPv4 identification field

    def packet(self) -> bytes:
        """The IPv4 packet, both checksums computed."""
        if len(self.payload) > MAX_PAYLOAD:
            raise ValueError(f"a segment of {len(self.payload)} bytes does not fit one IPv4 packet")
        window = 0xFFFF
        tcp = struct.pack("!HHIIBBHHH", self.sport, self.dport, self.seq & 0xFFFFFFFF,
                          self.ack & 0xFFFFFFFF, (TCP_HEADER // 4) << 4, self.flags, window, 0, 0)
        pseudo = self.src + self.dst + struct.pack("!BBH", 0, 6, len(tcp) + len(self.payload))
        tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp + self.payload)) + tcp[18:]
        total = IP_HEADER + len(tcp) + len(self.payload)
        # version 4, IHL 5; DF set (as a Linux TCP stack sends); TTL 64; protocol 6 (TCP)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, self.ident & 0xFFFF, 0x4000, 64, 6, 0,
                         self.src, self.dst)
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        return ip + tcp + self.payload
