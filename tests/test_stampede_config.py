"""Bad input for the origin and the stampede cures: one line naming key, value and what is
allowed (docs/design.md sections 4 and 9)."""

from __future__ import annotations

import pytest

from sim import Config, ConfigError, simulate
from sim.errors import OverloadError


@pytest.mark.parametrize(("overrides", "key", "words"), [
    (["cache.stampede=xfetch"], "cache.stampede", "needs cache.fill_from = 'origin'"),
    (["cache.stampede=herd"], "cache.stampede", "one of 'none', 'single_flight'"),
    (["cache.fill_from=origin", "cache.enabled=false"], "cache.fill_from", "cache.enabled"),
    (["cache.fill_from=origin", "replication.mode=quorum", "replication.replicas=3"],
     "cache.fill_from", "quorum mode"),
    (["cache.fill_from=origin", "metrics.visibility_probes=true"],
     "metrics.visibility_probes", "fill_from = 'origin'"),
    (["cache.ttl_jitter=2s"], "cache.ttl_jitter", "at most cache.ttl (1s)"),
    (["cache.xfetch_beta=0"], "cache.xfetch_beta", "> 0"),
    (["cache.lease_interval=0s"], "cache.lease_interval", "> 0"),
    (["cache.lease_wait=0s"], "cache.lease_wait", "> 0"),
    (["origin.servers=0"], "origin.servers", ">= 1"),
    (["origin.recompute_time=bogus:1s"], "origin.recompute_time", ""),
])
def test_bad_origin_settings_name_key_value_and_what_is_allowed(overrides, key, words):
    with pytest.raises(ConfigError) as caught:
        Config.load(None, overrides)
    line = str(caught.value)
    assert "\n" not in line and line.startswith(key) and words in line


def test_an_origin_queue_past_max_queue_stops_the_run():
    cfg = Config.load(None, ["cache.fill_from=origin", "run.max_queue=100", "run.duration=5"])
    with pytest.raises(OverloadError, match="origin"):
        simulate(cfg)


def test_the_origin_keys_appear_only_with_the_origin():
    off = simulate(Config.load(None, ["run.duration=1", "run.warmup=0.1"])).summary
    on = simulate(Config.load(None, ["run.duration=1", "run.warmup=0.1", "workload.keys=5",
                                     "cache.fill_from=origin", "origin.servers=100", "cache.ttl=100ms",
                                     "origin.recompute_time=1ms"])).summary
    keys = {"origin_recomputes", "recomputes_per_expiry", "recomputes_per_expiry_ci95",
            "origin_load", "origin_queue_ms", "stale_served"}
    assert not keys & set(off) and keys <= set(on)
    assert on["origin_recomputes"] > 0 and on["origin_load"]["peak"] >= on["origin_load"]["mean"]
