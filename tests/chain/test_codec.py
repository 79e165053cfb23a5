"""The fast ABI codec gives exactly eth-abi's bytes, values and errors."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.chain.codec import decoder, encoder

addresses = st.binary(min_size=20, max_size=20).flatmap(
    lambda b: st.sampled_from(["0x" + b.hex(), to_checksum_address(b), "0x" + b.hex().upper()]))


def uint(bits):
    return st.integers(0, 2**bits - 1)


def sint(bits):
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


TYPES = {
    "uint8": uint(8), "uint64": uint(64), "uint256": uint(256), "int96": sint(96),
    "int256": sint(256), "address": addresses, "bool": st.booleans(),
    "bytes32": st.binary(min_size=32, max_size=32), "bytes4": st.binary(min_size=4, max_size=4),
    "(address,uint256)": st.tuples(addresses, uint(256)),
    "(address,uint256,int256,uint256,bool)": st.tuples(addresses, uint(256), sint(256), uint(256),
                                                       st.booleans()),
    "(int96,uint128,uint16,uint8)": st.tuples(sint(96), uint(128), uint(16), uint(8)),
    "(int96,uint128,uint16,uint8)[]": st.lists(st.tuples(sint(96), uint(128), uint(16), uint(8)),
                                               max_size=3),
    "uint256[]": st.lists(uint(256), max_size=3),
    "(address,uint256)[]": st.lists(st.tuples(addresses, uint(256)), max_size=3),
    "string": st.text(max_size=20),
}
signatures = st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=3)
# Wide integers and nested arrays make big inputs; that is the point here, not a slow test.
QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=400, suppress_health_check=QUIET, deadline=None)
@given(st.data())
def test_round_trip_matches_eth_abi(data):
    types = tuple(data.draw(signatures))
    values = tuple(data.draw(TYPES[t]) for t in types)
    encoded = encoder(types)(values)
    assert encoded == abi_encode(types, values)
    assert decoder(types)(encoded) == abi_decode(types, encoded)


BAD = [("uint8", 256), ("uint256", -1), ("int96", 2**95), ("address", "0x1234"),
       ("address", "0x" + "zz" * 20), ("bool", 1), ("uint256", 1.0),
       ("bytes4", b"12345"), ("(address,uint256)", ("0x" + "00" * 20,)), ("uint256[]", 5)]


@pytest.mark.parametrize("kind, value", BAD)
def test_bad_values_raise_eth_abis_errors(kind, value):
    with pytest.raises(Exception) as ours:
        encoder((kind,))((value,))
    with pytest.raises(Exception) as theirs:
        abi_encode((kind,), (value,))
    assert type(ours.value) is type(theirs.value)


@settings(max_examples=300, suppress_health_check=QUIET, deadline=None)
@given(st.sampled_from(sorted(set(TYPES) - {"string"})), st.binary(max_size=200))
def test_arbitrary_bytes_decode_like_eth_abi(kind, blob):
    try:
        expected = abi_decode((kind,), blob)
    except Exception as exc:  # noqa: BLE001 - the error type is what we compare
        with pytest.raises(type(exc)):
            decoder((kind,))(blob)
    else:
        assert decoder((kind,))(blob) == expected


def test_int_enums_take_the_fast_path_and_encode_like_eth_abi(monkeypatch):
    """MarginMode and ModuleKind are IntEnums: encoded as the ints they are, without falling
    back to eth-abi (which a client call per trade would pay for), and bools still refused."""
    import protocol.chain.codec as codec
    from protocol.margin.types import MarginMode, ModuleKind

    types = ("uint8", "int256", "uint256")
    values = (MarginMode.CROSS, ModuleKind.PRICING, MarginMode.ISOLATED)
    expected = abi_encode(list(types), [int(v) for v in values])
    monkeypatch.setattr(codec, "abi_encode", lambda *a: pytest.fail("fell back to eth-abi"))
    assert encoder(types)(values) == expected
    monkeypatch.undo()
    with pytest.raises(Exception):
        encoder(("uint8",))((True,))


def _words(*values):
    return b"".join((v % 2**256).to_bytes(32, "big") for v in values)


@pytest.mark.parametrize("words", [
    (0, 0, 0, 0), (-(2**95), 2**128 - 1, 2**16 - 1, 255), (2**95 - 1, 0, 0, 0),
    (2**95, 0, 0, 0), (-(2**95) - 1, 0, 0, 0), (0, 2**128, 0, 0), (0, 0, 0, 256), (-1, 0, 0, 0)])
@pytest.mark.parametrize("types", [("(int96,uint128,uint16,uint8)",),
                                   ("int96", "uint128", "uint16", "uint8")])
def test_integer_words_at_their_bounds_decode_like_eth_abi(types, words):
    """Flat integer tuples (a position, an event's data) are decoded a tuple at a time: exactly
    eth-abi's values at each bound, and its error one past it."""
    blob = _words(*words)
    try:
        expected = abi_decode(types, blob)
    except Exception as exc:  # noqa: BLE001 - the error type is what we compare
        with pytest.raises(type(exc)):
            decoder(types)(blob)
    else:
        assert decoder(types)(blob) == expected
