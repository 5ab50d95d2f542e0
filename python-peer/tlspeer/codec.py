"""Bounds-checked reading and length-prefixed writing of TLS presentation-language
structures (RFC 8446 §3). Every read past the end raises DecodeError."""
from __future__ import annotations

from .errors import DecodeError


class Reader:
    """A cursor over bytes. Reads that run past the end raise DecodeError naming
    what was being read."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str = "message") -> None:
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def empty(self) -> bool:
        return self._pos >= len(self._data)

    @property
    def position(self) -> int:
        return self._pos

    def read(self, n: int, what: str = "field") -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise DecodeError(f"{self._what}: truncated {what} (needs {n} bytes, "
                              f"{self.remaining()} left)")
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def uint(self, size: int, what: str = "integer") -> int:
        # read()'s work inlined: the codec reads hundreds of thousands of integers a run.
        pos = self._pos
        end = pos + size
        if end > len(self._data):
            self.read(size, what)  # raises the truncation error
        self._pos = end
        return int.from_bytes(self._data[pos:end], "big")

    def u8(self, what: str = "uint8") -> int:
        return self.uint(1, what)

    def u16(self, what: str = "uint16") -> int:
        return self.uint(2, what)

    def u24(self, what: str = "uint24") -> int:
        return self.uint(3, what)

    def u32(self, what: str = "uint32") -> int:
        return self.uint(4, what)

    def vector(self, len_size: int, what: str = "vector", min_len: int = 0,
               max_len: int | None = None) -> bytes:
        length = self.uint(len_size, f"{what} length")
        if length < min_len or (max_len is not None and length > max_len):
            raise DecodeError(f"{self._what}: {what} length {length} outside "
                              f"[{min_len}, {max_len if max_len is not None else 'max'}]")
        return self.read(length, what)

    def sub(self, len_size: int, what: str, min_len: int = 0,
            max_len: int | None = None) -> "Reader":
        return Reader(self.vector(len_size, what, min_len, max_len), f"{self._what}.{what}")

    def end(self, what: str | None = None) -> None:
        if not self.empty():
            raise DecodeError(f"{what or self._what}: {self.remaining()} trailing bytes")

    def u16_list(self, len_size: int, what: str, min_len: int = 0) -> list[int]:
        inner = self.sub(len_size, what, min_len=min_len)
        if inner.remaining() % 2:
            raise DecodeError(f"{self._what}: {what} has an odd length")
        data = inner._data
        return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def uint(value: int, size: int) -> bytes:
    """Encode an unsigned integer; values that do not fit are a caller bug."""
    return value.to_bytes(size, "big")


def vec(len_size: int, data: bytes) -> bytes:
    """A length-prefixed opaque vector."""
    return len(data).to_bytes(len_size, "big") + data


def u16_vec(len_size: int, values: list[int] | tuple[int, ...]) -> bytes:
    return vec(len_size, b"".join(v.to_bytes(2, "big") for v in values))
