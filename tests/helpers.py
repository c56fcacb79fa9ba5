"""Shared helpers for the model tests: quick configs, confidence-interval checks, random small
configurations (hypothesis) and a trace collector. Test modules import this module, never
each other; fixtures live in ``conftest.py``."""

from __future__ import annotations

import os
from collections import defaultdict

from hypothesis import assume
from hypothesis import strategies as st

from sim import Config, ConfigError
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


delays = st.sampled_from(["0s", "50us", "exp:100us", "uniform:0s,300us", "lognormal:median=50us,sigma=1",
                          "pareto:scale=20us,alpha=2.5"])
small = st.sampled_from(["0s", "5us", "exp:10us"])


@st.composite
def configs(draw, cache=None):
    replicas = draw(st.integers(0, 3))
    policies = ["master", "any"] + (["replicas", "sticky", "read-your-writes"] if replicas else [])
    enabled = draw(st.booleans()) if cache is None else cache
    mode = draw(st.sampled_from(["open", "closed"]))
    data = {
        "run": {"duration": 0.3, "warmup": 0.05, "seed": draw(st.integers(0, 2**31))},
        "workload": {"mode": mode, "clients": draw(st.integers(1, 4)),
                     "read_rate": draw(st.sampled_from([0.0, 500.0, 3000.0])),
                     "write_rate": draw(st.sampled_from([200.0, 1500.0])),
                     "read_fraction": draw(st.sampled_from([0.0, 0.5, 0.9])),
                     "keys": draw(st.integers(1, 20)),
                     "key_distribution": draw(st.sampled_from(["zipf", "uniform"]))},
        "network": {"client_latency": draw(delays)},
        "server": {"service_time": draw(small), "batch_overhead": draw(small),
                   "replica_apply_time": draw(small)},
        "replication": {"replicas": replicas, "delay": draw(delays),
                        "read_policy": draw(st.sampled_from(policies)),
                        "wait_replicas": draw(st.integers(0, replicas)),
                        "wait_timeout": draw(st.sampled_from([0.0, 0.001]))},
        "cache": {"enabled": enabled, "ttl": draw(st.sampled_from([0.001, 0.05])),
                  "capacity": draw(st.integers(0, 5)), "latency": draw(delays),
                  "fill_from": draw(st.sampled_from(["read_policy", "master"])),
                  "on_write": draw(st.sampled_from(["none", "invalidate", "update"])),
                  "invalidation_delay": draw(st.sampled_from(["0s", "exp:100us"]))},
        "pipeline": {"batch_size": draw(st.integers(1, 4)),
                     "linger": draw(st.sampled_from([0.0, 0.0002]))},
    }
    try:
        return Config.from_dict(data)
    except ConfigError:
        # A closed loop whose round trip can take no time at all is refused by design.
        assume(False)


class Log:
    """Collects the trace of one run."""

    def __init__(self):
        self.events = defaultdict(list)

    def __call__(self, kind, t, **fields):
        self.events[kind].append((t, fields))
