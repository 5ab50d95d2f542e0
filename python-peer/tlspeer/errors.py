"""The errors tlspeer raises, one family rooted at TLSError.

Each class carries the alert (RFC 8446 §6.2) an endpoint sends when it fails that
way, so the engines can turn any error into the right alert without a table of
special cases, and decoders can promise to raise nothing but DecodeError.
"""
from __future__ import annotations

ALERT_DESCRIPTIONS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
    121: "ech_required",
}


# What Go's alert.Error() says for each alert (crypto/tls alert.go), so that
# "remote error: tls: ..." reads the same from both peers.
GO_ALERT_TEXT: dict[int, str] = {
    0: "close notify", 10: "unexpected message", 20: "bad record MAC", 21: "decryption failed",
    22: "record overflow", 30: "decompression failure", 40: "handshake failure",
    42: "bad certificate", 43: "unsupported certificate", 44: "revoked certificate",
    45: "expired certificate", 46: "unknown certificate", 47: "illegal parameter",
    48: "unknown certificate authority", 49: "access denied", 50: "error decoding message",
    51: "error decrypting message", 60: "export restriction", 70: "protocol version not supported",
    71: "insufficient security level", 80: "internal error", 86: "inappropriate fallback",
    90: "user canceled", 100: "no renegotiation", 109: "missing extension",
    110: "unsupported extension", 111: "certificate unobtainable", 112: "unrecognized name",
    113: "bad certificate status response", 114: "bad certificate hash value",
    115: "unknown PSK identity", 116: "certificate required", 120: "no application protocol",
    121: "encrypted client hello required",
}


def alert_name(description: int) -> str:
    return ALERT_DESCRIPTIONS.get(description, f"unknown({description})")


class TLSError(Exception):
    """A TLS failure; `alert` is the alert description this endpoint sends for it."""

    alert: int = 80

    def __init__(self, message: str, alert: int | None = None) -> None:
        super().__init__(message)
        if alert is not None:
            self.alert = alert

    @property
    def alert_name(self) -> str:
        return alert_name(self.alert)


class UnexpectedMessage(TLSError):
    alert = 10


class BadRecordMacError(TLSError):
    alert = 20


class RecordOverflow(TLSError):
    alert = 22


class HandshakeFailure(TLSError):
    alert = 40


class BadCertificate(TLSError):
    alert = 42


class UnsupportedCertificate(TLSError):
    alert = 43


class CertificateExpired(TLSError):
    alert = 45


class IllegalParameter(TLSError):
    alert = 47


class UnknownCA(TLSError):
    alert = 48


class DecodeError(TLSError):
    """Malformed bytes (the decode_error case). The only error a decoder raises."""

    alert = 50


class DecryptError(TLSError):
    alert = 51


class ProtocolVersion(TLSError):
    alert = 70


class InternalError(TLSError):
    alert = 80


class MissingExtension(TLSError):
    alert = 109


class UnsupportedExtension(TLSError):
    alert = 110


class CertificateRequired(TLSError):
    alert = 116


class NoApplicationProtocol(TLSError):
    alert = 120


class SilentFailure(TLSError):
    """A failure that sends no alert: the connection just ends (Go does this when a
    TLS 1.2 client resumes an extended-master-secret session without offering
    the extension)."""


class AlertReceived(TLSError):
    """The peer sent a fatal alert (or closed during the handshake). `alert` is
    the description received; nothing is sent back for it."""

    def __init__(self, description: int, level: int = 2) -> None:
        # Go's wording, so errors read the same from both peers.
        text = GO_ALERT_TEXT.get(description, f"alert({description})")
        super().__init__(f"remote error: tls: {text}",
                         description)
        self.level = level
