"""Mixture distributions: grammar, canonical strings, one-line errors, sampling statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.config.distributions import (
    ConfigError,
    Constant,
    Exponential,
    Mixture,
    Pareto,
    parse_distribution,
)
from sim.config.schema import Config

LNKD_SSD = "mix:0.9122*pareto:scale=0.235ms,alpha=10+0.0878*exp:0.6024ms"


def test_parses_the_published_fit_form():
    dist = parse_distribution(LNKD_SSD, "k")
    assert isinstance(dist, Mixture)
    assert dist.weights == (0.9122, 0.0878)
    assert dist.components == (Pareto(0.235e-3, 10.0), Exponential(0.6024e-3))


@pytest.mark.parametrize("text", [
    LNKD_SSD,
    "mix:0.5*1ms+0.5*exp:2ms",
    "mix:1*uniform:1ms,9ms",
    "mix:0.25*lognormal:median=5ms,sigma=0.8+0.75*exp:1e+1ms",
    "mix: 0.3 * exp:1ms + 0.7 * pareto:scale=1ms,alpha=2.5",
])
def test_canonical_string_round_trips(text):
    dist = parse_distribution(text, "k")
    again = parse_distribution(str(dist), "k")
    assert again == dist
    assert str(again) == str(dist)


def test_exponent_plus_inside_a_component_is_not_a_separator():
    dist = parse_distribution("mix:0.5*exp:1e+1ms+0.5*exp:2ms", "k")
    assert dist.components == (Exponential(10e-3), Exponential(2e-3))


def test_analytic_mean_is_the_weighted_mean():
    dist = parse_distribution(LNKD_SSD, "k")
    expected = 0.9122 * 0.235e-3 * 10 / 9 + 0.0878 * 0.6024e-3
    assert dist.mean == pytest.approx(expected, rel=1e-12)


def test_sample_mean_within_its_confidence_interval():
    dist = parse_distribution("mix:0.7*exp:1ms+0.2*uniform:2ms,4ms+0.1*5ms", "k")
    sample = dist.sampler(np.random.default_rng(8))
    x = np.array([sample() for _ in range(200_000)])
    half = 4.0 * x.std(ddof=1) / math.sqrt(x.size)  # 4 sigma: a false alarm in 15,000 runs
    assert abs(x.mean() - dist.mean) < half


def test_component_shares_follow_the_weights():
    dist = parse_distribution("mix:0.3*1ms+0.7*2ms", "k")
    sample = dist.sampler(np.random.default_rng(3))
    x = np.array([sample() for _ in range(50_000)])
    assert set(np.unique(x)) == {1e-3, 2e-3}
    share = float(np.mean(x == 1e-3))
    sd = math.sqrt(0.3 * 0.7 / x.size)
    assert abs(share - 0.3) < 4 * sd


def test_sampler_is_deterministic_for_a_seed():
    dist = parse_distribution(LNKD_SSD, "k")
    a = dist.sampler(np.random.default_rng(5))
    b = dist.sampler(np.random.default_rng(5))
    assert [a() for _ in range(3000)] == [b() for _ in range(3000)]


def test_all_zero_components_make_a_zero_distribution():
    dist = Mixture((0.5, 0.5), (Constant(0.0), Exponential(0.0)))
    assert dist.is_zero
    assert dist.sampler(np.random.default_rng(1))() == 0.0


@pytest.mark.parametrize(("text", "hint"), [
    ("mix:0.5*exp:1ms", "sum to 0.5, not 1"),
    ("mix:0.5*exp:1ms+0.6*exp:1ms", "sum to 1.1, not 1"),
    ("mix:", "is not WEIGHT*DIST"),
    ("mix:exp:1ms", "is not WEIGHT*DIST"),
    ("mix:0*exp:1ms+1*exp:2ms", "is not WEIGHT*DIST"),
    ("mix:0.5*exp:1ms+0.5*bogus:1ms", "unknown distribution kind 'bogus'"),
    ("mix:0.5*exp:-1ms+0.5*exp:1ms", "component 'exp:-1ms'"),
    ("mix:0.5*exp:1ms+0.5*mix:1*exp:1ms", "cannot hold another mix"),
])
def test_errors_are_one_line_naming_key_and_value(text, hint):
    with pytest.raises(ConfigError) as info:
        parse_distribution(text, "replication.delay")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"replication.delay = {text!r}")
    assert hint in message


def test_weights_within_tolerance_are_accepted():
    dist = parse_distribution("mix:0.333333*1ms+0.333333*2ms+0.333334*3ms", "k")
    assert len(dist.components) == 3


def test_a_mixture_config_round_trips_through_to_dict():
    config = Config.default().with_overrides({"replication.delay": LNKD_SSD})
    assert Config.from_dict(config.to_dict()) == config
