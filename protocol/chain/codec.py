"""Fast ABI coding for the shapes the venue's hot paths use, with eth-abi for everything else.

eth-abi validates and dispatches per value through layers of generic machinery: about 5 µs to
encode a call and 20 µs to decode a log, more than revm needs to execute a typical transaction.
Static elementary types (uintN, intN, address, bool, bytesN), static tuples of them and dynamic
arrays of those are coded here by slicing 32-byte words. Anything else (strings, bytes, nested
dynamic types) and any value that does not fit goes through eth-abi, so errors and results are
exactly eth-abi's (``tests/chain/test_codec.py`` checks both ways with hypothesis).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Optional, Sequence, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode

Encoder = Callable[[Sequence[Any]], bytes]
Decoder = Callable[[bytes], tuple[Any, ...]]

_ELEMENTARY = re.compile(r"(uint|int|bytes)(\d*)|address|bool")
_ZERO12 = b"\0" * 12
_TWO256 = 1 << 256


class _Fallback(Exception):
    """The fast path cannot take this value: let eth-abi encode it (or raise its error)."""


# ----------------------------------------------------------------------------- type shapes
def _split_tuple(kind: str) -> Optional[list[str]]:
    """Component types of ``(a,b,...)``, or None if not a plain tuple."""
    if not (kind.startswith("(") and kind.endswith(")")):
        return None
    parts, depth, start = [], 0, 1
    for i, ch in enumerate(kind[1:-1], start=1):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(kind[start:i])
            start = i + 1
    parts.append(kind[start:-1])
    return [p for p in parts if p]


def _static_words(kind: str) -> Optional[int]:
    """Number of 32-byte words of a static type this module handles, else None."""
    if _ELEMENTARY.fullmatch(kind):
        if kind.startswith("bytes") and kind == "bytes":
            return None
        return 1
    parts = _split_tuple(kind)
    if parts is None:
        return None
    words = [_static_words(p) for p in parts]
    return None if any(w is None for w in words) else sum(cast(list[int], words))


# ----------------------------------------------------------------------------- encoding
@lru_cache(maxsize=65536)
def _address_word(value: str) -> bytes:
    if len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise _Fallback
    body = value[2:]
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise _Fallback from None
    return _ZERO12 + raw


def _word_encoder(kind: str) -> Callable[[Any], bytes]:
    if kind == "address":
        return lambda v: _address_word(v) if isinstance(v, str) else _raise()
    if kind == "bool":
        return lambda v: (b"\0" * 31 + (b"\1" if v else b"\0")) if isinstance(v, bool) else _raise()
    match = _ELEMENTARY.fullmatch(kind)
    assert match is not None
    base, bits = match.group(1), match.group(2)
    if base == "bytes":
        size = int(bits)

        def encode_bytes(v: Any) -> bytes:
            if not isinstance(v, (bytes, bytearray)) or len(v) > size:
                raise _Fallback
            return bytes(v).ljust(32, b"\0")
        return encode_bytes
    width = int(bits or 256)
    if base == "uint":
        limit = 1 << width

        def encode_uint(v: Any) -> bytes:
            if type(v) is not int:
                v = _plain_int(v)
            if v < 0 or v >= limit:
                raise _Fallback
            word: bytes = v.to_bytes(32, "big")  # v is an int by now
            return word
        return encode_uint
    half = 1 << (width - 1)

    def encode_int(v: Any) -> bytes:
        if type(v) is not int:
            v = _plain_int(v)
        if v < -half or v >= half:
            raise _Fallback
        word: bytes = (v % _TWO256).to_bytes(32, "big")  # v is an int by now
        return word
    return encode_int


def _plain_int(v: Any) -> int:
    """An int subclass (an IntEnum such as MarginMode) as the int it is; anything else, bool
    included, goes to eth-abi."""
    if isinstance(v, int) and not isinstance(v, bool):
        return int(v)
    raise _Fallback


def _raise() -> bytes:
    raise _Fallback


def _static_encoder(kind: str) -> Callable[[Any], bytes]:
    parts = _split_tuple(kind)
    if parts is None:
        return _word_encoder(kind)
    encoders = [_static_encoder(p) for p in parts]

    def encode_tuple(value: Any) -> bytes:
        if not isinstance(value, (tuple, list)) or len(value) != len(encoders):
            raise _Fallback
        return b"".join(e(v) for e, v in zip(encoders, value))
    return encode_tuple


def _slot_encoder(kind: str) -> Optional[tuple[bool, Callable[[Any], bytes]]]:
    """(is dynamic, encoder of the value's own bytes) for a top-level slot type."""
    if kind.endswith("[]"):
        inner = kind[:-2]
        if _static_words(inner) is None:
            return None
        element = _static_encoder(inner)

        def encode_array(value: Any) -> bytes:
            if not isinstance(value, (tuple, list)):
                raise _Fallback
            return len(value).to_bytes(32, "big") + b"".join(element(v) for v in value)
        return True, encode_array
    if _static_words(kind) is None:
        return None
    return False, _static_encoder(kind)


@lru_cache(maxsize=None)
def encoder(types: tuple[str, ...]) -> Encoder:
    """An encoder of argument tuples of ``types`` (fast where it can, eth-abi otherwise)."""
    slots = [_slot_encoder(t) for t in types]
    if any(s is None for s in slots):
        return lambda args: abi_encode(types, tuple(args))
    # Every slot has an encoder, and a static slot's type its number of words.
    present = cast(list[tuple[bool, Callable[[Any], bytes]]], slots)
    head_size = 32 * sum(1 if dyn else cast(int, _static_words(t)) for (dyn, _), t in zip(present, types))

    def encode(args: Sequence[Any]) -> bytes:
        args = tuple(args)
        if len(args) != len(present):
            return abi_encode(types, args)
        try:
            head, tail = [], []
            offset = head_size
            for (dynamic, enc), value in zip(present, args):
                data = enc(value)
                if dynamic:
                    head.append(offset.to_bytes(32, "big"))
                    tail.append(data)
                    offset += len(data)
                else:
                    head.append(data)
            return b"".join(head) + b"".join(tail)
        except _Fallback:
            return abi_encode(types, args)  # raises eth-abi's own error for a bad value
    return encode


# ----------------------------------------------------------------------------- decoding
def _word_decoder(kind: str) -> Callable[[bytes, int], Any]:
    if kind == "address":
        def decode_address(data: bytes, at: int) -> str:
            if any(data[at:at + 12]):
                raise _Fallback
            return "0x" + data[at + 12:at + 32].hex()
        return decode_address
    if kind == "bool":
        def decode_bool(data: bytes, at: int) -> bool:
            value = int.from_bytes(data[at:at + 32], "big")
            if value > 1:
                raise _Fallback
            return value == 1
        return decode_bool
    match = _ELEMENTARY.fullmatch(kind)
    assert match is not None
    base, bits = match.group(1), match.group(2)
    if base == "bytes":
        size = int(bits)

        def decode_bytes(data: bytes, at: int) -> bytes:
            if any(data[at + size:at + 32]):
                raise _Fallback
            return data[at:at + size]
        return decode_bytes
    width = int(bits or 256)
    if base == "uint":
        limit = 1 << width

        def decode_uint(data: bytes, at: int) -> int:
            value = int.from_bytes(data[at:at + 32], "big")
            if value >= limit:
                raise _Fallback
            return value
        return decode_uint
    half = 1 << (width - 1)

    def decode_int(data: bytes, at: int) -> int:
        value = int.from_bytes(data[at:at + 32], "big", signed=True)
        if value < -half or value >= half:
            raise _Fallback
        return value
    return decode_int


def _integer_width(kind: str) -> Optional[tuple[bool, int]]:
    """(signed, bits) of ``uintN`` / ``intN``; None for any other type."""
    match = _ELEMENTARY.fullmatch(kind)
    if match is None or match.group(1) not in ("uint", "int"):
        return None
    return match.group(1) == "int", int(match.group(2) or 256)


def _integer_tuple_decoder(widths: list[tuple[bool, int]]) -> Callable[[bytes, int], tuple[int, ...]]:
    """A decoder of a flat tuple of integers: its words in one pass, then the signs and the
    bounds of the narrower ones. It gives what :func:`_word_decoder`'s closures give (a word out
    of range falls back to eth-abi), without a call per word; an all-zero tuple (a mapping's
    empty entry, common in the venue's views) is answered at once."""
    count = len(widths)
    size = 32 * count
    signed = [i for i, (is_signed, _) in enumerate(widths) if is_signed]
    bounded = [(i, is_signed, 1 << (bits - 1) if is_signed else 1 << bits)
               for i, (is_signed, bits) in enumerate(widths) if bits < 256]
    zero_word, zero = bytes(size), (0,) * count
    from_bytes, half, full = int.from_bytes, 1 << 255, _TWO256

    def decode_integers(data: bytes, at: int) -> tuple[int, ...]:
        chunk = data[at:at + size]
        if chunk == zero_word:
            return zero
        if len(chunk) < size:
            raise _Fallback
        values = [from_bytes(chunk[i:i + 32], "big") for i in range(0, size, 32)]
        for i in signed:
            if values[i] >= half:
                values[i] -= full
        for i, is_signed, bound in bounded:
            value = values[i]
            if value >= bound or (is_signed and value < -bound):
                raise _Fallback
        return tuple(values)
    return decode_integers


def _static_decoder(kind: str) -> Callable[[bytes, int], Any]:
    parts = _split_tuple(kind)
    if parts is None:
        return _word_decoder(kind)
    widths = [_integer_width(p) for p in parts]
    if parts and all(w is not None for w in widths):
        return _integer_tuple_decoder(cast(list[tuple[bool, int]], widths))
    # A static tuple's parts are static: each has its number of words.
    decoders = [(_static_decoder(p), 32 * cast(int, _static_words(p))) for p in parts]

    def decode_tuple(data: bytes, at: int) -> tuple[Any, ...]:
        out = []
        for dec, size in decoders:
            out.append(dec(data, at))
            at += size
        return tuple(out)
    return decode_tuple


@lru_cache(maxsize=None)
def decoder(types: tuple[str, ...]) -> Decoder:
    """A decoder of ``types`` (fast where it can, eth-abi otherwise)."""
    widths = [_integer_width(t) for t in types]
    if types and all(w is not None for w in widths):  # an event's data, most often
        integers = _integer_tuple_decoder(cast(list[tuple[bool, int]], widths))

        def decode_integers(data: bytes) -> tuple[Any, ...]:
            try:
                return integers(data, 0)
            except _Fallback:
                return abi_decode(types, data)  # eth-abi's result, or its error
        return decode_integers
    plan: list[tuple[bool, Callable[[bytes, int], Any], int]] = []
    for kind in types:
        if kind.endswith("[]") and (words := _static_words(kind[:-2])) is not None:
            plan.append((True, _static_decoder(kind[:-2]), 32 * words))
        elif (words := _static_words(kind)) is not None:
            plan.append((False, _static_decoder(kind), 32 * words))
        else:
            return lambda data: abi_decode(types, data)

    def decode(data: bytes) -> tuple[Any, ...]:
        try:
            out, at = [], 0
            for dynamic, dec, size in plan:
                if dynamic:
                    start = int.from_bytes(data[at:at + 32], "big")
                    count = int.from_bytes(data[start:start + 32], "big")
                    first = start + 32
                    if first + count * size > len(data):
                        raise _Fallback
                    out.append(tuple(dec(data, first + i * size) for i in range(count)))
                    at += 32
                else:
                    if at + size > len(data):
                        raise _Fallback
                    out.append(dec(data, at))
                    at += size
            return tuple(out)
        except _Fallback:
            return abi_decode(types, data)  # eth-abi's result, or its error
    return decode
