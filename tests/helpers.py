"""Shared helpers for the model tests: quick configs and confidence-interval checks."""

from __future__ import annotations

import os

from sim import Config
from sim.measure.metrics import t_quantile

# Heavy statistical checks run shortened in `make test`; REPSIM_FULL=1 (`make test-full`)
# runs them this many times longer, which narrows every interval by about half.
LENGTH = 4.0 if os.environ.get("REPSIM_FULL") else 1.0

BATCHES = 32  # the recorder's batch count; its intervals use Student t with BATCHES - 1 df
Z_CHECK = 3.5  # checks accept |estimate - theory| <= 3.5 standard errors (two-sided p ~ 1e-3)

ZERO = {
    "network.client_latency": "0s",
    "server.service_time": "0s",
    "server.batch_overhead": "0s",
    "server.replica_apply_time": "0s",
    "cache.latency": "0s",
}


def long_run(seconds: float) -> float:
    """A heavy check's simulated duration: ``seconds`` in `make test`, longer in full runs."""
    return seconds * LENGTH


def config(overrides: dict | None = None) -> Config:
    """The default config with ``overrides`` ({"section.key": value}); a short run whose
    warm-up is not given warms up for a tenth of its duration."""
    overrides = dict(overrides or {})
    if "run.duration" in overrides and "run.warmup" not in overrides:
        overrides["run.warmup"] = min(2.0, float(overrides["run.duration"]) / 10)
    return Config.default().with_overrides(overrides)


def standard_error(ci: list) -> float:
    """Recover the batch-means standard error from a 95% interval [lo, hi]."""
    lo, hi = ci
    assert lo is not None and hi is not None, "too few batches for an interval"
    return (hi - lo) / (2 * t_quantile(0.975, BATCHES - 1))


def assert_agrees(estimate: float, ci: list, theory: float, floor: float = 0.0) -> None:
    """The estimate is within Z_CHECK standard errors of theory (``floor`` adds the known
    deterministic error of the measure itself, e.g. a histogram bucket or an edge effect)."""
    se = standard_error(ci)
    tolerance = Z_CHECK * se + floor
    assert abs(estimate - theory) <= tolerance, (
        f"estimate {estimate:.6g} vs theory {theory:.6g}: off by {abs(estimate - theory):.3g}, "
        f"allowed {tolerance:.3g} ({Z_CHECK} x standard error {se:.3g} + {floor:.3g})")
