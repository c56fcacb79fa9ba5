"""Invariants of the origin and the stampede cures on random small configurations."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim import Config, ConfigError, simulate
from tests.helpers import Log, delays

POLICIES = ["none", "single_flight", "lease", "xfetch", "stale_while_revalidate"]


@st.composite
def origin_configs(draw):
    mode = draw(st.sampled_from(["open", "closed"]))
    data = {
        "run": {"duration": 0.4, "warmup": 0.05, "seed": draw(st.integers(0, 2**31))},
        "workload": {"mode": mode, "clients": draw(st.integers(1, 4)),
                     "read_rate": draw(st.sampled_from([200.0, 2000.0])),
                     "write_rate": draw(st.sampled_from([0.0, 100.0, 1000.0])),
                     "read_fraction": draw(st.sampled_from([0.5, 0.9, 1.0])),
                     "think_time": draw(st.sampled_from(["0s", "1ms", "exp:2ms"])),
                     "keys": draw(st.integers(1, 5))},
        "network": {"client_latency": draw(delays)},
        "replication": {"replicas": draw(st.integers(0, 2)), "read_policy": "master"},
        "cache": {"fill_from": "origin", "stampede": draw(st.sampled_from(POLICIES)),
                  "ttl": draw(st.sampled_from(["5ms", "30ms"])),
                  "ttl_jitter": draw(st.sampled_from(["0s", "2ms"])),
                  "latency": draw(delays), "capacity": draw(st.integers(0, 3)),
                  "on_write": draw(st.sampled_from(["none", "invalidate", "update"])),
                  "lease_interval": draw(st.sampled_from(["1ms", "20ms"])),
                  "lease_wait": "1ms", "xfetch_beta": draw(st.sampled_from([0.5, 1.0, 3.0]))},
        "pipeline": {"batch_size": draw(st.integers(1, 3))},
        "origin": {"servers": draw(st.integers(1, 3)),
                   "recompute_time": draw(st.sampled_from(["0s", "2ms", "exp:3ms"]))},
    }
    try:
        return Config.from_dict(data)
    except ConfigError:
        assume(False)  # an instant closed loop is refused by design


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(origin_configs())
def test_origin_invariants(cfg):
    log = Log()
    result = simulate(cfg, trace=log, keep_model=True)
    s = result.summary
    committed = result.model.master.committed
    for _, read in log.events["read"]:  # every version read was written
        assert 0 <= read["version"] <= committed[read["key"]].number
    wl = cfg.workload
    if wl.mode == "closed":  # a client waits for its batch: at most that many recomputes
        assert s["origin_in_flight_max"] <= wl.clients * cfg.pipeline.batch_size
    if cfg.cache.stampede == "single_flight":  # one recompute per key at a time
        assert s["origin_in_flight_max"] <= wl.keys
    if cfg.cache.stampede != "stale_while_revalidate":
        assert s["stale_served"] == 0
    # No 100 ms window holds fewer than its share of the recomputes.
    windows = math.ceil((cfg.run.duration - cfg.run.warmup) / 0.1 - 1e-9)
    assert s["origin_load"]["peak"] * 0.1 * windows >= s["origin_recomputes"] - 1e-9
