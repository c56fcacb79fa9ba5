"""Durations and delay distributions: grammar, canonical strings, sampling statistics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.config.distributions import (
    MAX_DURATION_S,
    MAX_SIGMA,
    MIN_ALPHA,
    ConfigError,
    Constant,
    Distribution,
    Empirical,
    Exponential,
    LogNormal,
    Pareto,
    Uniform,
    format_duration,
    parse_distribution,
    parse_duration,
)

# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ns", 250e-9),
        ("250us", 250e-6),
        ("250µs", 250e-6),
        ("250μs", 250e-6),
        ("5ms", 5e-3),
        ("1.5ms", 1.5e-3),
        ("2s", 2.0),
        ("2 s", 2.0),
        ("3min", 180.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("0.5", 0.5),
        (".5s", 0.5),
        ("1e-3s", 1e-3),
        ("0", 0.0),
        (0, 0.0),
        (3, 3.0),
        (0.25, 0.25),
    ],
)
def test_parse_duration_units(text, seconds):
    assert parse_duration(text, "k") == seconds
    assert isinstance(parse_duration(text, "k"), float)


@pytest.mark.parametrize(
    "value", [True, False, -1, -0.5, "-1ms", "5xs", "ms", "", "5 m s", "1,5ms", math.inf,
              math.nan, "inf", "nan", None, [1], "1e999s", "5MS"],
)
def test_parse_duration_rejects(value):
    with pytest.raises(ConfigError) as info:
        parse_duration(value, "run.duration")
    assert info.value.key == "run.duration"
    assert info.value.value == value or value != value  # nan is not equal to itself
    assert str(info.value).startswith(f"run.duration = {value!r}: ")
    assert "ms" in info.value.allowed  # says which units are allowed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (250e-6, "250us"), (5e-3, "5ms"), (2, "2s"), (1.5e-3, "1.5ms"),
     (120, "2min"), (7200, "2h"), (604800, "7d"), (90, "90s"), (1e-5, "10us"), (0.5, "500ms")],
)
def test_format_duration_readable(seconds, text):
    assert format_duration(seconds) == text


@given(st.floats(min_value=0, max_value=MAX_DURATION_S, allow_nan=False, allow_infinity=False))
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds), "k") == seconds


@pytest.mark.parametrize("seconds", [-1.0, math.inf, math.nan])
def test_format_duration_rejects_non_durations(seconds):
    with pytest.raises(ValueError):
        format_duration(seconds)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", Constant(0.0)),
        ("250us", Constant(250e-6)),
        (0.002, Constant(0.002)),
        ("exp:5ms", Exponential(5e-3)),
        (" exp : 5ms ", Exponential(5e-3)),
        ("uniform:1ms,9ms", Uniform(1e-3, 9e-3)),
        ("lognormal:median=5ms,sigma=0.8", LogNormal(5e-3, 0.8)),
        ("lognormal: sigma=0.8, median=5ms", LogNormal(5e-3, 0.8)),
        ("pareto:scale=1ms,alpha=2.5", Pareto(1e-3, 2.5)),
    ],
)
def test_parse_distribution_forms(text, expected):
    parsed = parse_distribution(text, "k")
    assert parsed == expected
    assert type(parsed) is type(expected)


def test_parse_distribution_passes_instances_through():
    dist = Exponential(1e-3)
    assert parse_distribution(dist, "k") is dist


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("gauss:1ms", "unknown distribution kind 'gauss'"),
        ("exp:", "exp:MEAN"),
        ("exp:-1ms", "exp:MEAN"),
        ("exp:fast", "exp:MEAN"),
        ("uniform:1ms", "uniform:LOW,HIGH"),
        ("uniform:9ms,1ms", "LOW must not exceed HIGH"),
        ("lognormal:median=5ms", "lognormal:median=M,sigma=S"),
        ("lognormal:median=5ms,sigma=-1", "lognormal:median=M,sigma=S"),
        ("lognormal:median=5ms,sigma=0.8,sigma=1", "lognormal:median=M,sigma=S"),
        ("pareto:scale=1ms,alpha=0", "pareto:scale=X,alpha=A"),
        ("pareto:scale=1ms,alpha=nan", "pareto:scale=X,alpha=A"),
        ("pareto:scale=1ms,shape=2", "pareto:scale=X,alpha=A"),
        ("empirical:", "empirical:FILE"),
        ("fast", "a delay"),
        (True, "a delay"),
        (-2, "a delay"),
        (["exp:1ms"], "a delay"),
    ],
)
def test_parse_distribution_errors_name_key_value_and_form(value, hint):
    with pytest.raises(ConfigError) as info:
        parse_distribution(value, "replication.delay")
    message = str(info.value)
    assert message.startswith(f"replication.delay = {value!r}: ")
    assert hint in message


def test_no_eval_in_parsing():
    # An expression is not a number: the grammar must refuse it, not compute it.
    with pytest.raises(ConfigError):
        parse_distribution("exp:__import__('os')", "k")
    with pytest.raises(ConfigError):
        parse_distribution("pareto:scale=1ms,alpha=2*2", "k")


# --------------------------------------------------------------------------- empirical


def test_empirical_reads_samples_relative_to_base_dir(tmp_path):
    (tmp_path / "lat.txt").write_text("# measured\n0.001\n\n0.003  # slow one\n2e-3\n")
    dist = parse_distribution("empirical:lat.txt", "k", base_dir=tmp_path)
    assert isinstance(dist, Empirical)
    assert dist.samples == (0.001, 0.003, 0.002)
    assert dist.mean == pytest.approx(0.002)
    rng = np.random.default_rng(3)
    draws = {dist.sample(rng) for _ in range(200)}
    assert draws == {0.001, 0.003, 0.002}
    assert parse_distribution(str(dist), "k") == dist  # the canonical string holds the full path


def test_empirical_relative_to_current_directory(tmp_path, monkeypatch):
    (tmp_path / "lat.txt").write_text("0.5\n")
    monkeypatch.chdir(tmp_path)
    assert parse_distribution("empirical:lat.txt", "k").samples == (0.5,)


@pytest.mark.parametrize(
    ("content", "hint"),
    [("# only a comment\n\n", "no samples"), ("0.001\nfast\n", "line 2"),
     ("0.001\n-0.5\n", "line 2"), ("nan\n", "line 1")],
)
def test_empirical_bad_files(tmp_path, content, hint):
    (tmp_path / "lat.txt").write_text(content)
    with pytest.raises(ConfigError) as info:
        parse_distribution("empirical:lat.txt", "network.client_latency", base_dir=tmp_path)
    assert info.value.key == "network.client_latency"
    assert hint in str(info.value)


def test_empirical_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        parse_distribution("empirical:absent.txt", "k", base_dir=tmp_path)
    assert "absent.txt" in str(info.value)
    assert "cannot read" in str(info.value)


# --------------------------------------------------------------------------- properties

durations = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
sigmas = st.floats(min_value=0, max_value=MAX_SIGMA)
alphas = st.floats(min_value=MIN_ALPHA, max_value=50)
distributions = st.one_of(
    st.builds(Constant, durations),
    st.builds(Exponential, durations),
    st.tuples(durations, durations).map(lambda pair: Uniform(min(pair), max(pair))),
    st.builds(LogNormal, durations, sigmas),
    st.builds(Pareto, durations, alphas),
)


@given(distributions)
def test_str_round_trips(dist):
    assert parse_distribution(str(dist), "k") == dist


@pytest.mark.parametrize(
    "dist",
    [Constant(3e-3), Exponential(0.0), Uniform(0.0, 0.0), LogNormal(0.0, 1.0), Pareto(0.0, 2.0),
     Exponential(2e-3), Uniform(1e-3, 9e-3), LogNormal(5e-3, 0.8), Pareto(1e-3, 2.5)],
)
def test_sampler_is_deterministic_for_a_seed(dist):
    # 3000 draws cross two block boundaries.
    first = dist.sampler(np.random.default_rng(42))
    second = dist.sampler(np.random.default_rng(42))
    a = [first() for _ in range(3000)]
    assert a == [second() for _ in range(3000)]
    assert all(type(x) is float and x >= 0 for x in a)
    assert dist.sample(np.random.default_rng(7)) == dist.sample(np.random.default_rng(7))


def test_different_seeds_give_different_samples():
    dist = Exponential(1e-3)
    a, b = dist.sampler(np.random.default_rng(1)), dist.sampler(np.random.default_rng(2))
    assert [a() for _ in range(10)] != [b() for _ in range(10)]


@pytest.mark.parametrize(
    "dist", [Constant(0.0), Exponential(0.0), Uniform(0.0, 0.0), LogNormal(0.0, 0.5),
             Pareto(0.0, 1.5)],
)
def test_zero_distributions_always_return_zero_without_using_the_rng(dist):
    assert dist.is_zero
    assert dist.mean == 0
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    draw = dist.sampler(rng)
    assert {draw() for _ in range(100)} == {0.0}
    assert dist.sample(rng) == 0.0
    assert rng.bit_generator.state == state


def test_constant_is_the_only_constant():
    assert Constant(1e-3).is_constant and not Constant(1e-3).is_zero
    for dist in (Exponential(0.0), Uniform(1e-3, 1e-3), LogNormal(1e-3, 0.0)):
        assert not dist.is_constant


def test_distributions_are_immutable_and_hashable():
    dist = Exponential(1e-3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        dist.mean = 2e-3  # type: ignore[misc]
    assert len({Exponential(1e-3), parse_distribution("exp:1ms", "k")}) == 1
    assert isinstance(dist, Distribution)


def test_pareto_mean_is_infinite_for_alpha_at_most_one():
    assert Pareto(1e-3, 1.0).mean == math.inf
    assert Pareto(1e-3, 0.5).mean == math.inf
    assert Pareto(1e-3, 2.0).mean == pytest.approx(2e-3)


# Each with its analytic standard deviation, so the tolerance is 5 standard errors.
STATISTICS = [
    (Exponential(2e-3), 2e-3),
    (Uniform(1e-3, 9e-3), 8e-3 / math.sqrt(12)),
    (LogNormal(5e-3, 0.5), 5e-3 * math.exp(0.125) * math.sqrt(math.exp(0.25) - 1)),
    (Pareto(1e-3, 4.5), 1e-3 / 3.5 * math.sqrt(4.5 / 2.5)),
]


@pytest.mark.parametrize(("dist", "std"), STATISTICS)
def test_sample_mean_matches_analytic_mean(dist, std):
    n = 200_000
    draw = dist.sampler(np.random.default_rng(2024))
    samples = np.fromiter((draw() for _ in range(n)), dtype=float, count=n)
    assert abs(samples.mean() - dist.mean) < 5 * std / math.sqrt(n)
    assert samples.std() == pytest.approx(std, rel=0.05)


def test_pareto_samples_start_at_scale():
    draw = Pareto(1e-3, 2.5).sampler(np.random.default_rng(0))
    assert min(draw() for _ in range(10_000)) >= 1e-3


def test_uniform_stays_within_bounds():
    draw = Uniform(1e-3, 2e-3).sampler(np.random.default_rng(0))
    values = [draw() for _ in range(10_000)]
    assert 1e-3 <= min(values) and max(values) <= 2e-3
