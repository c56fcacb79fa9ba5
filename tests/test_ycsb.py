"""YCSB's key choices (sim.model.ycsb) and the core-workload presets (sim.config.presets)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.cli import app as cli
from sim.config.presets import PRESETS
from sim.config.schema import Config
from sim.engine import simulate
from sim.errors import ConfigError
from sim.experiment.sweep import plan_sweep
from sim.model.streams import key_sampler, key_taker
from sim.model.ycsb import YCSB_ZETAN, LatestKeys, fnv1a_64, zeta

MASK = (1 << 64) - 1


def java_fnvhash64(value: int) -> int:
    """YCSB's Utils.fnvhash64, one value at a time with Java's long arithmetic."""
    hashed = 0xCBF29CE484222325
    for _ in range(8):
        hashed ^= value & 0xFF
        value >>= 8
        hashed = (hashed * 1099511628211) & MASK
    signed = hashed - (1 << 64) if hashed >> 63 else hashed
    return abs(signed)


def test_the_hash_is_ycsbs_fnv1a_of_eight_bytes():
    values = [0, 1, 2, 255, 256, 12345678901234, 10**16 - 1, 2**62 + 7]
    assert fnv1a_64(np.array(values, dtype=np.int64)).tolist() == [
        java_fnvhash64(v) for v in values]


def test_zeta_matches_the_constant_ycsb_precomputed():
    # YCSB's ZETAN is the zeta of 1e10 items at 0.99 (computed when ITEM_COUNT was 1e10).
    assert zeta(10**10, 0.99) == pytest.approx(YCSB_ZETAN, rel=1e-10)
    assert zeta(1000, 0.5) == pytest.approx(float(np.sum(np.arange(1, 1001) ** -0.5)), rel=1e-12)


def _hottest_share(distribution: str, draws: int = 400_000) -> float:
    sample = key_sampler(np.random.default_rng(7), 1000, distribution, 0.99)
    counts = np.bincount([sample() for _ in range(draws)], minlength=1000)
    return counts.max() / draws


def test_over_1000_keys_the_hottest_scrambled_key_takes_about_4_percent_not_13():
    # The binomial standard error at 400,000 draws is about 0.0003 for either share.
    assert _hottest_share("scrambled_zipf") == pytest.approx(0.039, abs=0.002)
    assert _hottest_share("zipf") == pytest.approx(0.129, abs=0.002)


def test_scrambled_keys_are_the_same_drawn_one_or_many_at_a_time():
    one = key_sampler(np.random.default_rng(3), 1000, "scrambled_zipf", 0.99)
    many = key_taker(np.random.default_rng(3), 1000, "scrambled_zipf", 0.99)
    assert [one() for _ in range(3000)] == many.take(1000) + many.take(2000)
    assert all(0 <= k < 1000 for k in many.take(5000))


def test_latest_reads_follow_the_inserts_round_the_key_space():
    keys = LatestKeys(np.random.default_rng(1), 10, 0.99)
    assert [keys.write() for _ in range(12)] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    reads = keys.reads.take(20_000)
    counts = np.bincount(reads, minlength=10)
    # The latest insert (key 1) is the most read, the one before it (key 0) next.
    assert list(np.argsort(counts)[::-1][:2]) == [1, 0]
    assert keys.writes.take(3) == [2, 3, 4] and keys.read() in range(10)


@pytest.mark.parametrize("name, fraction, distribution", [
    ("ycsb-a", 0.5, "scrambled_zipf"), ("ycsb-b", 0.95, "scrambled_zipf"),
    ("ycsb-c", 1.0, "scrambled_zipf"), ("ycsb-d", 0.95, "latest"),
    ("ycsb-f", 0.75, "scrambled_zipf")])
def test_each_preset_sets_ycsbs_workload_and_runs(name, fraction, distribution):
    config = Config.default().with_overrides({"workload.preset": name, "run.duration": 0.4,
                                              "run.warmup": 0.1})
    wl = config.workload
    assert (wl.mode, wl.read_fraction, wl.key_distribution, wl.zipf_s, wl.keys) == (
        "closed", fraction, distribution, 0.99, 1000)
    summary = simulate(config).summary
    ops = summary["reads"] + summary["writes"]
    assert summary["reads"] / ops == pytest.approx(fraction, abs=0.02)


def test_every_preset_is_tested():
    assert set(PRESETS) == {"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-f"}


def test_a_preset_in_a_file_is_overridable_in_the_file_and_on_the_command_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[workload]\npreset = "ycsb-b"\nkeys = 500\n')
    config = Config.load(path, ["workload.read_fraction=0.6"])
    assert (config.workload.keys, config.workload.read_fraction,
            config.workload.key_distribution) == (500, 0.6, "scrambled_zipf")
    assert Config.from_dict(config.to_dict()) == config


def test_the_preset_option_is_the_preset_key(tmp_path, capsys):
    assert cli.main(["config", "show", "--preset", "ycsb-d", "--set", "workload.keys=64"]) == 0
    shown = capsys.readouterr().out
    assert 'preset = "ycsb-d"' in shown and 'key_distribution = "latest"' in shown
    assert "keys = 64" in shown


def test_a_sweep_may_vary_the_preset():
    plan = plan_sweep(None, {"workload.preset": ["ycsb-a", "ycsb-c"]})
    assert [t.config.workload.read_fraction for t in plan.tasks] == [0.5, 1.0]


def test_an_unknown_preset_and_a_scrambled_exponent_of_one_are_refused():
    with pytest.raises(ConfigError, match="one of 'none', 'ycsb-a'"):
        Config.default().with_overrides({"workload.preset": "ycsb-e"})
    with pytest.raises(ConfigError, match="< 1"):
        Config.default().with_overrides({"workload.key_distribution": "scrambled_zipf",
                                         "workload.zipf_s": 1.0})
