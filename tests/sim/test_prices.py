"""protocol.prices: determinism, model statistics, scripted shocks, bridges and CSV replay."""

from __future__ import annotations

import math
import random
import statistics
from decimal import Decimal

import pytest

from protocol.prices import (
    GBM,
    PRICE_QUANTUM,
    SECONDS_PER_YEAR,
    BrownianBridge,
    CorrelatedGBM,
    Crash,
    CsvReplay,
    CsvReplayError,
    FlashCrash,
    Gap,
    Heston,
    MertonJumpDiffusion,
    PricePath,
    PriceSource,
    RegimeSwitchingVol,
    WithShock,
    cholesky,
    combine,
    derive_seed,
    quantize,
)

HOUR = 3600.0

SOURCES = [
    GBM("ETH", 3000, drift=0.1, volatility=0.8),
    MertonJumpDiffusion("ETH", 3000, volatility=0.5, jump_intensity=50),
    CorrelatedGBM(("ETH", "BTC"), (3000, 60000), (0.0, 0.0), (0.8, 0.6),
                  ((1, 0.7), (0.7, 1))),
    RegimeSwitchingVol("ETH", 3000, vols=(0.3, 1.5), switch_probability=0.05),
    Heston("ETH", 3000),
    BrownianBridge("ETH", 3000, {50: 2500}, volatility=0.8),
    combine(GBM("ETH", 3000), GBM("BTC", 60000)),
    WithShock(GBM("ETH", 3000), Crash("ETH", 1, "0.5", 10, 5)),
]


def log_returns(series):
    return [math.log(b / a) for a, b in zip(series, series[1:])]


def correlation(xs, ys):
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    cov = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return cov / math.sqrt(math.fsum((x - mx) ** 2 for x in xs)
                           * math.fsum((y - my) ** 2 for y in ys))


# ---------------------------------------------------------------- interface and determinism


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: type(s).__name__)
def test_same_seed_same_path_different_seed_different(source):
    assert isinstance(source, PriceSource)
    a = source.path(200, HOUR, seed=42)
    assert a == source.path(200, HOUR, seed=42)
    assert a != source.path(200, HOUR, seed=43)
    assert isinstance(a, PricePath) and len(a) == 201 and a.blocks == 200
    assert a.symbols == source.symbols
    for sym in a.symbols:
        series = a.series(sym)
        assert len(series) == 201
        assert all(isinstance(p, Decimal) and p > 0 and p.as_tuple().exponent >= -8
                   for p in series)


def test_paths_do_not_touch_global_random_state():
    random.seed(1)
    expected = random.random()
    random.seed(1)
    GBM("ETH", 3000).path(100, HOUR, seed=5)
    assert random.random() == expected


def test_gbm_path_is_pinned_to_known_values():
    """Regression anchor: a platform-dependent change in the generator would show here."""
    path = GBM("ETH", 3000, drift=0.1, volatility=0.8).path(3, 12, seed=1)
    assert path.series("ETH") == tuple(Decimal(x) for x in (
        "3000", "3001.90746928", "3004.05520585", "3004.15329666"))
    # the path is a pure function of (parameters, seed): recomputing the first step by hand
    rng = random.Random(1)
    dt = 12 / SECONDS_PER_YEAR
    x = math.log(3000) + (0.1 - 0.32) * dt + 0.8 * math.sqrt(dt) * rng.gauss(0.0, 1.0)
    assert path.series("ETH")[1] == quantize(math.exp(x))


def test_price_path_at_and_len():
    path = GBM("ETH", 3000).path(10, HOUR, seed=0)
    assert path.at(0) == {"ETH": Decimal("3000")}
    assert list(path) == [path.at(i) for i in range(11)]
    with pytest.raises(IndexError):
        path.at(11)
    with pytest.raises(IndexError):
        path.at(-1)
    with pytest.raises(ValueError, match="blocks"):
        GBM("ETH", 3000).path(-1, HOUR, seed=0)
    with pytest.raises(ValueError, match="block_time"):
        GBM("ETH", 3000).path(1, 0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        GBM("ETH", 3000).path(1, HOUR, seed=-1)


def test_quantize():
    assert quantize(1.23456789123) == Decimal("1.23456789")
    assert quantize(Decimal("2.5")) == Decimal("2.5")
    assert quantize(1e-12) == PRICE_QUANTUM
    with pytest.raises(ValueError):
        quantize(float("nan"))


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize("make, name", [
    (lambda: GBM("ETH", 0), "start"),
    (lambda: GBM("ETH", -5), "start"),
    (lambda: GBM("ETH", "abc"), "start"),
    (lambda: GBM("ETH", 100, volatility=-0.1), "volatility"),
    (lambda: GBM("ETH", 100, drift=float("inf")), "drift"),
    (lambda: GBM("", 100), "symbol"),
    (lambda: MertonJumpDiffusion("ETH", 100, jump_intensity=-1), "jump_intensity"),
    (lambda: MertonJumpDiffusion("ETH", 100, jump_std=-1), "jump_std"),
    (lambda: RegimeSwitchingVol("ETH", 100, vols=()), "vols"),
    (lambda: RegimeSwitchingVol("ETH", 100, vols=(0.1, -0.2)), r"vols\[1\]"),
    (lambda: RegimeSwitchingVol("ETH", 100, switch_probability=1.5), "switch_probability"),
    (lambda: RegimeSwitchingVol("ETH", 100, initial_regime=2), "initial_regime"),
    (lambda: Heston("ETH", 100, rho=2), "rho"),
    (lambda: Heston("ETH", 100, v0=-1), "v0"),
    (lambda: Crash("ETH", 100, 30, 0, 10), "drop_pct"),
    (lambda: Crash("ETH", 100, "0.3", 0, 0), "over_blocks"),
    (lambda: Crash("ETH", 100, "0.3", -1, 5), "start_block"),
    (lambda: FlashCrash("ETH", 100, "1", 5, 5), "drop_pct"),
    (lambda: FlashCrash("ETH", 100, "0.2", 5, 0), "recover_blocks"),
    (lambda: Gap("ETH", 100, "-1", 5), "gap_pct"),
    (lambda: Gap("ETH", 100, "0.1", 0), "at_block"),
    (lambda: BrownianBridge("ETH", 100, {}, 0.5), "targets"),
    (lambda: BrownianBridge("ETH", 100, {0: 100}, 0.5), "targets block"),
    (lambda: BrownianBridge("ETH", 100, {5: 0}, 0.5), r"targets\[5\]"),
    (lambda: CorrelatedGBM(("A", "B"), (1, 2), (0, 0), (0.1,), ((1, 0), (0, 1))),
     "volatilities"),
    (lambda: CorrelatedGBM(("A", "A"), (1, 2), (0, 0), (0.1, 0.1), ((1, 0), (0, 1))),
     "symbols"),
])
def test_bad_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_combine_rejects_overlapping_symbols():
    with pytest.raises(ValueError, match="ETH"):
        combine(GBM("ETH", 1), GBM("ETH", 2))


def test_with_shock_rejects_foreign_symbol():
    with pytest.raises(ValueError, match="BTC"):
        WithShock(GBM("ETH", 1), Gap("BTC", 1, "0.1", 1))


# ---------------------------------------------------------------------- combine


def test_combine_uses_derived_seeds_per_source():
    eth, btc = GBM("ETH", 3000, volatility=0.8), GBM("BTC", 60000, volatility=0.6)
    path = combine(eth, btc).path(50, HOUR, seed=9)
    assert path.symbols == ("ETH", "BTC")
    assert path.series("ETH") == eth.path(50, HOUR, derive_seed(9, 0)).series("ETH")
    assert path.series("BTC") == btc.path(50, HOUR, derive_seed(9, 1)).series("BTC")
    assert derive_seed(9, 0) != derive_seed(9, 1) != derive_seed(10, 1)
    assert derive_seed(9, 0) == derive_seed(9, 0)


# ------------------------------------------------------------------------ statistics


def test_gbm_log_return_statistics():
    drift, vol, n = 0.1, 0.8, 20_000
    path = GBM("ETH", 3000, drift=drift, volatility=vol).path(n, HOUR, seed=2024)
    rets = log_returns(path.series("ETH"))
    dt = HOUR / SECONDS_PER_YEAR
    step_sd = vol * math.sqrt(dt)
    assert statistics.stdev(rets) == pytest.approx(step_sd, rel=0.03)
    mean = statistics.fmean(rets)
    assert abs(mean - (drift - vol ** 2 / 2) * dt) < 4 * step_sd / math.sqrt(n)


def test_zero_volatility_gbm_is_deterministic_growth():
    path = GBM("ETH", 100, drift=0.5, volatility=0).path(10, SECONDS_PER_YEAR / 10, seed=1)
    assert float(path.series("ETH")[-1]) == pytest.approx(100 * math.exp(0.5), rel=1e-9)


def test_merton_without_jumps_equals_gbm_and_jumps_fatten_tails():
    gbm = GBM("ETH", 3000, drift=0.05, volatility=0.5)
    no_jumps = MertonJumpDiffusion("ETH", 3000, drift=0.05, volatility=0.5, jump_intensity=0)
    assert no_jumps.path(500, HOUR, 3).series("ETH") == gbm.path(500, HOUR, 3).series("ETH")

    jumpy = MertonJumpDiffusion("ETH", 3000, volatility=0.3, jump_intensity=200,
                                jump_mean=0.0, jump_std=0.05)
    rets = log_returns(jumpy.path(20_000, HOUR, 3).series("ETH"))
    m, sd = statistics.fmean(rets), statistics.pstdev(rets)
    kurtosis = statistics.fmean([((r - m) / sd) ** 4 for r in rets])
    assert kurtosis > 6  # a normal has 3
    # total variance per year ~ vol^2 + intensity * (mean^2 + std^2)
    expected = math.sqrt((0.3 ** 2 + 200 * 0.05 ** 2) * HOUR / SECONDS_PER_YEAR)
    assert sd == pytest.approx(expected, rel=0.1)


def test_correlated_gbm_empirical_correlation():
    target = ((1.0, 0.6, -0.3), (0.6, 1.0, 0.2), (-0.3, 0.2, 1.0))
    src = CorrelatedGBM(("A", "B", "C"), (100, 200, 300), (0, 0, 0), (0.5, 0.8, 1.0), target)
    path = src.path(20_000, HOUR, seed=11)
    rets = {s: log_returns(path.series(s)) for s in src.symbols}
    for i, a in enumerate(src.symbols):
        dt = HOUR / SECONDS_PER_YEAR
        assert statistics.stdev(rets[a]) == pytest.approx(src.volatilities[i] * math.sqrt(dt),
                                                          rel=0.03)
        for j, b in enumerate(src.symbols[:i]):
            assert correlation(rets[a], rets[b]) == pytest.approx(target[i][j], abs=0.04)


def test_non_psd_correlation_raises():
    bad = ((1, 0.9, 0.9), (0.9, 1, -0.9), (0.9, -0.9, 1))
    with pytest.raises(ValueError, match="correlation matrix is not positive semi-definite"):
        CorrelatedGBM(("A", "B", "C"), (1, 1, 1), (0, 0, 0), (0.5, 0.5, 0.5), bad)


@pytest.mark.parametrize("matrix, reason", [
    (((1, 0.5), (0.4, 1)), "symmetric"),
    (((1, 0.5), (0.5, 0.9)), "diagonal"),
    (((1, 1.5), (1.5, 1)), r"correlation\[0\]\[1\]"),
    (((1, 0.5, 0), (0.5, 1, 0)), "square"),
    (((1, 0, 0), (0, 1, 0), (0, 0, 1)), "2x2"),
])
def test_invalid_correlation_matrices(matrix, reason):
    with pytest.raises(ValueError, match=reason):
        CorrelatedGBM(("A", "B"), (1, 1), (0, 0), (0.5, 0.5), matrix)


def test_singular_psd_correlation_is_accepted():
    # A and B perfectly correlated, C the opposite of both: rank 1, PSD
    m = ((1, 1, -1), (1, 1, -1), (-1, -1, 1))
    low = cholesky(m)
    for i in range(3):
        for j in range(3):
            assert math.fsum(low[i][k] * low[j][k] for k in range(3)) == pytest.approx(m[i][j])
    src = CorrelatedGBM(("A", "B", "C"), (100, 100, 100), (0, 0, 0), (0.5, 0.5, 0.5), m)
    path = src.path(100, HOUR, seed=1)
    assert path.series("A") == path.series("B")
    # C's shock is minus A's; both drift by -vol^2/2 dt
    for ra, rc in zip(log_returns(path.series("A")), log_returns(path.series("C"))):
        assert ra + rc == pytest.approx(-0.25 * HOUR / SECONDS_PER_YEAR, abs=1e-8)


def test_regime_switching_vol_regimes_have_their_volatility():
    src = RegimeSwitchingVol("ETH", 3000, vols=(0.2, 2.0), switch_probability=0.01)
    path = src.path(20_000, HOUR, seed=5)
    regimes = src.regimes(20_000, HOUR, seed=5)
    rets = log_returns(path.series("ETH"))
    dt = HOUR / SECONDS_PER_YEAR
    for regime, vol in enumerate(src.vols):
        sample = [r for r, g in zip(rets, regimes) if g == regime]
        assert len(sample) > 1000
        assert statistics.stdev(sample) == pytest.approx(vol * math.sqrt(dt), rel=0.1)
    switches = sum(a != b for a, b in zip(regimes, regimes[1:]))
    assert 100 < switches < 300  # ~ 0.01 * 20000


def test_heston_with_constant_variance_matches_gbm_volatility():
    src = Heston("ETH", 3000, v0=0.25, theta=0.25, kappa=1.0, xi=0.0)
    rets = log_returns(src.path(20_000, HOUR, seed=8).series("ETH"))
    assert statistics.stdev(rets) == pytest.approx(0.5 * math.sqrt(HOUR / SECONDS_PER_YEAR),
                                                   rel=0.03)


# ---------------------------------------------------------------------------- shocks


@pytest.mark.parametrize("shape", ["linear", "geometric"])
def test_crash_reaches_exact_level(shape):
    crash = Crash("ETH", Decimal("3000.5"), Decimal("0.37"), start_block=5, over_blocks=7,
                  shape=shape)
    series = crash.path(20, 12, seed=0).series("ETH")
    end = quantize(Decimal("3000.5") * (1 - Decimal("0.37")))
    assert series[:6] == (Decimal("3000.5"),) * 6
    assert series[12] == end and set(series[12:]) == {end}
    assert all(a > b for a, b in zip(series[5:12], series[6:13]))
    if shape == "geometric":
        ratios = [b / a for a, b in zip(series[5:12], series[6:13])]
        assert max(ratios) - min(ratios) < Decimal("1e-9")
    else:
        steps = [a - b for a, b in zip(series[5:12], series[6:13])]
        assert max(steps) - min(steps) <= Decimal("2e-8")


def test_flash_crash_drops_then_recovers_to_start():
    series = FlashCrash("ETH", 2000, "0.25", at_block=3, recover_blocks=4).path(10, 12, 0)
    series = series.series("ETH")
    assert series[:3] == (Decimal(2000),) * 3
    assert series[3] == Decimal(1500)
    assert list(series[3:8]) == [1500, 1625, 1750, 1875, 2000]
    assert set(series[7:]) == {Decimal(2000)}


def test_gap_is_a_single_block_jump():
    series = Gap("ETH", 100, "-0.15", at_block=4).path(8, 12, 0).series("ETH")
    assert series == (Decimal(100),) * 4 + (Decimal(85),) * 5


def test_with_shock_multiplies_the_base_path():
    base = combine(GBM("ETH", 3000, volatility=0.8), GBM("BTC", 60000))
    crash = Crash("ETH", 1, "0.4", start_block=10, over_blocks=10)
    shocked = WithShock(base, crash).path(30, HOUR, seed=4)
    plain = base.path(30, HOUR, seed=4)
    assert shocked.series("BTC") == plain.series("BTC")
    factors = crash.factors(30)
    for p, q, f in zip(plain.series("ETH"), shocked.series("ETH"), factors):
        assert q == quantize(p * f)
    assert shocked.series("ETH")[:11] == plain.series("ETH")[:11]
    assert shocked.series("ETH")[30] == quantize(plain.series("ETH")[30] * Decimal("0.6"))
    # shocks nest
    twice = WithShock(WithShock(base, crash), Gap("BTC", 1, "0.1", 5)).path(30, HOUR, seed=4)
    assert twice.series("ETH") == shocked.series("ETH")
    assert twice.series("BTC")[5] == quantize(plain.series("BTC")[5] * Decimal("1.1"))


# ---------------------------------------------------------------------------- bridge


def test_bridge_hits_targets_exactly():
    targets = {10: Decimal("3500.123456789"), 25: 2800, 40: "3100.5"}
    bridge = BrownianBridge("ETH", 3000, targets, volatility=1.5)
    for seed in range(5):
        series = bridge.path(50, HOUR, seed).series("ETH")
        assert series[0] == Decimal(3000)
        assert series[10] == Decimal("3500.12345679")
        assert series[25] == Decimal(2800)
        assert series[40] == Decimal("3100.5")
    with pytest.raises(ValueError, match="block 40"):
        bridge.path(39, HOUR, 0)


def test_bridge_single_end_target_and_randomness():
    bridge = BrownianBridge("ETH", 3000, 2000, volatility=1.0)
    a, b = bridge.path(100, HOUR, 1), bridge.path(100, HOUR, 2)
    assert a.series("ETH")[-1] == b.series("ETH")[-1] == Decimal(2000)
    assert a != b
    assert bridge.path(7, HOUR, 1).series("ETH")[-1] == Decimal(2000)


def test_bridge_midpoint_is_centred_in_log_space():
    bridge = BrownianBridge("ETH", 100, {20: 400}, volatility=0.5)
    mids = [math.log(bridge.path(20, HOUR, s).series("ETH")[10]) for s in range(300)]
    assert statistics.fmean(mids) == pytest.approx(math.log(200), abs=0.01)


# ------------------------------------------------------------------------ CSV replay


def write(tmp_path, text, name="prices.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_replay_samples_last_price_at_or_before_each_block(tmp_path):
    p = write(tmp_path, "timestamp,symbol,price\n"
                        "100,ETH,3000\n"
                        "103,BTC,60000\n"
                        "105,ETH,3010.5\n"
                        "110,ETH,2990\n"
                        "111,BTC,61000\n"
                        "125,ETH,2900.123456789\n")
    src = CsvReplay(p)
    assert src.symbols == ("ETH", "BTC")
    assert isinstance(src, PriceSource)
    assert src.start_time == 103 and src.end_time == 125
    assert src.max_blocks(5) == 4
    path = src.path(4, 5, seed=0)  # blocks at t = 103, 108, 113, 118, 123
    assert path.series("ETH") == tuple(Decimal(x) for x in
                                       ("3000", "3010.5", "2990", "2990", "2990"))
    assert path.series("BTC") == tuple(Decimal(x) for x in
                                       ("60000", "60000", "61000", "61000", "61000"))
    assert path == src.path(4, 5, seed=99)
    with pytest.raises(ValueError, match="at most 4 blocks"):
        src.path(5, 5, seed=0)
    assert CsvReplay(p, symbols=("BTC", "ETH")).path(1, 1, 0).symbols == ("BTC", "ETH")


def test_csv_replay_round_trips_a_path(tmp_path):
    path = GBM("ETH", 3000, volatility=0.8).path(30, 12, seed=3)
    file = tmp_path / "out.csv"
    path.to_csv(file, start_timestamp=1_700_000_000)
    assert CsvReplay(file).path(30, 12, seed=0) == path


def test_csv_header_columns_in_any_order(tmp_path):
    p = write(tmp_path, "price,timestamp,symbol\n10,1,ETH\n11,2,ETH\n")
    assert CsvReplay(p).path(1, 1, 0).series("ETH") == (Decimal(10), Decimal(11))


@pytest.mark.parametrize("text, line, reason", [
    ("", None, "empty file"),
    ("timestamp,symbol,price\n", None, "no price rows"),
    ("timestamp,price\n1,10\n", 1, "missing column"),
    ("timestamp,symbol,price,volume\n1,ETH,10,5\n", 1, "unexpected column"),
    ("timestamp,symbol,price\n1,ETH,10\n2,ETH\n", 3, "expected 3 fields"),
    ("timestamp,symbol,price\n1,ETH,10\n2,ETH,11,7\n", 3, "expected 3 fields"),
    ("timestamp,symbol,price\n1,ETH,10\n2,ETH,abc\n", 3, "not a number"),
    ("timestamp,symbol,price\n1,ETH,10\n2,ETH,nan\n", 3, "not a number"),
    ("timestamp,symbol,price\n1,ETH,0\n", 2, "must be positive"),
    ("timestamp,symbol,price\n1,ETH,-3\n", 2, "must be positive"),
    ("timestamp,symbol,price\nnoon,ETH,3\n", 2, "timestamp 'noon' is not a number"),
    ("timestamp,symbol,price\n1,ETH,10\n1,ETH,11\n", 3, "not after"),
    ("timestamp,symbol,price\n2,ETH,10\n1,ETH,11\n", 3, "not after"),
    ("timestamp,symbol,price\n1,ETH,10\n2, ,11\n", 3, "empty symbol"),
])
def test_csv_replay_bad_files(tmp_path, text, line, reason):
    p = write(tmp_path, text)
    with pytest.raises(CsvReplayError, match=reason) as info:
        CsvReplay(p)
    assert info.value.line == line
    assert str(info.value).startswith(f"{p}:{line}:" if line else f"{p}:")


def test_csv_replay_unknown_and_absent_symbols(tmp_path):
    p = write(tmp_path, "timestamp,symbol,price\n1,ETH,10\n2,SOL,11\n")
    with pytest.raises(CsvReplayError, match="unknown symbol 'SOL'") as info:
        CsvReplay(p, symbols=("ETH",))
    assert info.value.line == 3
    with pytest.raises(CsvReplayError, match="no rows for symbol"):
        CsvReplay(p, symbols=("ETH", "SOL", "BTC"))


def test_csv_replay_missing_file(tmp_path):
    with pytest.raises(CsvReplayError, match="cannot open"):
        CsvReplay(tmp_path / "nope.csv")


def test_timestamps_per_symbol_may_interleave(tmp_path):
    p = write(tmp_path, "timestamp,symbol,price\n5,ETH,10\n1,BTC,20\n6,ETH,11\n7,BTC,21\n")
    path = CsvReplay(p).path(2, 1, 0)  # t = 5, 6, 7
    assert path.series("ETH") == (Decimal(10), Decimal(11), Decimal(11))
    assert path.series("BTC") == (Decimal(20), Decimal(20), Decimal(21))


def test_paths_ignore_the_callers_decimal_context():
    from decimal import localcontext

    src = WithShock(GBM("ETH", 3000), Crash("ETH", 1, "0.37", 2, 7, shape="geometric"))
    expected = src.path(20, 12, seed=1)
    with localcontext() as ctx:
        ctx.prec = 4
        assert src.path(20, 12, seed=1) == expected
