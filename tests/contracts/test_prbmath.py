"""The reference model's port of prb-math 2.4.3 (``protocol/margin/prbmath.py``) and of GMX's
impact math (``protocol/margin/impact_pricing.py``) against the chain, to the wei.

Every constant of the port is read back from the pinned npm package's Solidity source; random
inputs (hypothesis) go to the library on chain (``PRBMathProbe``) and to ``ImpactPricing``'s
``applyExponentFactor`` and ``priceImpactUsd``, on both in-process EVMs (``backend``)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.build.toolchain import PROJECT_ROOT, npm_dir
from protocol.chain import connect
from protocol.constants import WAD
from protocol.errors import Reverted
from protocol.margin import prbmath
from protocol.margin.impact_pricing import ImpactConfig, apply_exponent_factor, price_impact_usd

FLOAT = 10**30
SETTINGS = dict(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _source(name: str) -> str:
    return (npm_dir() / "node_modules" / "prb-math" / "contracts" / name).read_text()


def test_prb_math_is_pinned_at_2_4_3():
    package = json.loads((PROJECT_ROOT / "package.json").read_text())
    assert package["dependencies"]["prb-math"] == "2.4.3"  # exact: no range
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/prb-math"]["version"] == "2.4.3"
    installed = json.loads((npm_dir() / "node_modules" / "prb-math" / "package.json").read_text())
    assert installed["version"] == "2.4.3"


def test_every_constant_of_the_port_is_the_librarys():
    math = _source("PRBMath.sol")
    ud = _source("PRBMathUD60x18.sol")
    steps = re.findall(r"if \(x & (0x[0-9A-F]+) > 0\) \{\s*result = \(result \* (0x[0-9A-F]+)\) >> 64;", math)
    assert [int(mask, 16) for mask, _ in steps] == [1 << (63 - k) for k in range(64)]
    assert tuple(int(factor, 16) for _, factor in steps) == prbmath.EXP2_FACTORS
    assert "result = 0x800000000000000000000000000000000000000000000000;" in math  # 2^191
    assert "result >>= (191 - (x >> 64));" in math
    assert re.search(r"uint256 internal constant SCALE = 1e18;", ud) and prbmath.SCALE == 10**18
    assert re.search(r"uint256 internal constant HALF_SCALE = 5e17;", ud) and prbmath.HALF_SCALE == 5 * 10**17
    assert "if (x >= 192e18)" in ud and prbmath.EXP2_MAX_INPUT == 192 * 10**18
    assert "roundUpUnit := gt(remainder, 499999999999999999)" in math  # mul rounds half up
    assert "if (prod1 >= SCALE)" in math  # mul's overflow bound
    assert "for (uint256 delta = HALF_SCALE; delta > 0; delta >>= 1)" in ud  # log2's loop
    assert "result = exp2(mul(log2(x), y));" in ud  # pow


@pytest.fixture(scope="module")
def chain(backend):
    c = connect(backend)
    yield c
    c.close()


@pytest.fixture(scope="module")
def probe(chain):
    return chain.deploy("PRBMathProbe", sender=chain.new_account())


@pytest.fixture(scope="module")
def impact(chain):
    admin = chain.new_account()
    module = chain.deploy("ImpactPricing", admin, admin, sender=admin)
    return module, admin


@settings(**SETTINGS)
@given(x=st.one_of(st.integers(10**18, 10**30), st.integers(10**18, 10**50)),
       y=st.one_of(st.integers(10**18, 3 * 10**18), st.sampled_from([2 * WAD, 22 * 10**17, 236 * 10**16, WAD])))
def test_pow_matches_the_chain_to_the_wei(probe, x, y):
    try:
        expected = prbmath.pow(x, y)
    except prbmath.PRBMathError as error:
        with pytest.raises(Reverted) as refused:
            probe.call("pow", x, y)
        assert refused.value.error == error.name
        return
    assert probe.call("pow", x, y) == expected


@settings(**SETTINGS)
@given(x=st.integers(10**18, 2**255))
def test_log2_matches_the_chain(probe, x):
    assert probe.call("log2", x) == prbmath.log2(x)


@settings(**SETTINGS)
@given(x=st.integers(0, 192 * 10**18 - 1))
def test_exp2_matches_the_chain(probe, x):
    assert probe.call("exp2", x) == prbmath.exp2(x)


@settings(**SETTINGS)
@given(x=st.integers(0, 2**128), y=st.integers(0, 2**128))
def test_mul_rounds_half_up_as_the_chain(probe, x, y):
    assert probe.call("mul", x, y) == prbmath.mul(x, y)


def test_the_edges_are_refused_by_name_on_both_sides(probe):
    for function, args, name in (("log2", (10**18 - 1,), "PRBMathUD60x18__LogInputTooSmall"),
                                 ("exp2", (192 * 10**18,), "PRBMathUD60x18__Exp2InputTooBig")):
        with pytest.raises(prbmath.PRBMathError) as model:
            getattr(prbmath, function)(*args)
        with pytest.raises(Reverted) as chain:
            probe.call(function, *args)
        assert model.value.name == chain.value.error == name
    assert prbmath.pow(0, 0) == probe.call("pow", 0, 0) == 10**18
    assert prbmath.pow(0, 5) == probe.call("pow", 0, 5) == 0
    assert prbmath.exp2(191 * 10**18) == probe.call("exp2", 191 * 10**18)


@settings(**SETTINGS)
@given(value=st.one_of(st.integers(0, 10**31), st.integers(0, 10**45)),
       exponent=st.one_of(st.integers(WAD, 3 * WAD), st.sampled_from([WAD, 2 * WAD, 22 * 10**17])))
def test_apply_exponent_factor_matches_gmxs_on_chain(impact, value, exponent):
    module, _ = impact
    assert module.call("applyExponentFactor", value, exponent) == apply_exponent_factor(value, exponent)


@settings(**SETTINGS)
@given(factors=st.tuples(st.integers(0, 10**26), st.integers(0, 10**26)),
       exponents=st.tuples(st.integers(WAD, 3 * WAD), st.integers(WAD, 3 * WAD)),
       long_oi=st.integers(0, 10**39), short_oi=st.integers(0, 10**39),
       delta=st.integers(-10**39, 10**39), is_long=st.booleans())
def test_price_impact_usd_matches_the_chain(impact, factors, exponents, long_oi, short_oi, delta, is_long):
    """Same-side and crossover rebalances, the adjusted factors and exponents, decreases past
    a side's open interest: the model's GMX impact equals the module's to the wei."""
    module, admin = impact
    config = ImpactConfig(factor_positive=factors[0], factor_negative=factors[1],
                          exponent_positive=exponents[0], exponent_negative=exponents[1])
    encoded = (config.factor_positive, config.factor_negative, config.exponent_positive,
               config.exponent_negative, config.max_positive_impact_bps, config.max_negative_impact_bps,
               config.max_liquidation_impact_bps, config.index_decimals, config.open_interest_in_tokens)
    module.transact(admin, "setImpactConfig", 7, encoded).raise_for_status()
    assert module.call("priceImpactUsd", 7, long_oi, short_oi, delta, is_long) == \
        price_impact_usd(config, long_oi, short_oi, delta, is_long)
