"""Invariants of runs with random fault schedules (hypothesis), checked on the trace."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim import Config, ConfigError, simulate
from tests.helpers import Log, configs

times = st.floats(min_value=0.0, max_value=0.28).map(lambda t: round(t, 4))
spans = st.sampled_from([0.005, 0.03, 0.1])


@st.composite
def faulty_configs(draw):
    base = draw(configs())
    replicas = base.replication.replicas
    faults: dict = {"failover_timeout": draw(st.sampled_from(["10ms", "exp:20ms", "0s",
                                                             "sentinel"])),
                    "master_recover_after": draw(st.sampled_from([0.0, 0.02, 0.1])),
                    "crash_mode": draw(st.sampled_from(["process", "network"]))}
    if faults["failover_timeout"] == "sentinel":  # Sentinel's timeline, shrunk to the run
        faults.update({"sentinel_down_after": draw(st.sampled_from(["5ms", "30ms"])),
                       "sentinel_info_period": "0.1s", "sentinel_failover_info_period": "20ms",
                       "client_discovery": draw(st.sampled_from(["poll", "pubsub"])),
                       "client_poll_interval": "5ms"})
    if replicas and draw(st.booleans()):
        faults["master_crash_at"] = draw(st.lists(times, min_size=1, max_size=2))
    if replicas and draw(st.booleans()):
        faults["replica_disconnects"] = [
            {"replica": draw(st.integers(0, replicas - 1)), "start": draw(times),
             "duration": draw(spans)}]
    if draw(st.booleans()):
        names = ["master"] + [f"replica{j}" for j in range(replicas)]
        faults["partitions"] = [{
            "start": draw(times), "duration": draw(spans),
            "nodes": draw(st.lists(st.sampled_from(names), max_size=2, unique=True)),
            "clients": draw(st.lists(st.integers(0, base.workload.clients - 1), max_size=2,
                                     unique=True))}]
    rep = {"serve_stale_data": draw(st.booleans()),
           "min_replicas_to_write": draw(st.integers(0, replicas)),
           "min_replicas_max_lag": draw(st.sampled_from(["0s", "20ms"])),
           "backlog_size": draw(st.sampled_from([100, 1000, 1024 * 1024])),
           "stream_bandwidth": draw(st.sampled_from([0, 50_000]))}
    server = {"persistence": draw(st.sampled_from(["none", "rdb", "aof"])),
              "snapshot_interval": "50ms", "fsync_interval": draw(st.sampled_from([0, "10ms"]))}
    try:
        return base.with_overrides({**{f"faults.{k}": v for k, v in faults.items()},
                                    **{f"replication.{k}": v for k, v in rep.items()},
                                    **{f"server.{k}": v for k, v in server.items()}})
    except ConfigError:
        assume(False)  # e.g. a crash drawn inside the partition


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faulty_configs())
def test_invariants_under_faults(cfg: Config):
    log = Log()
    ordered = []

    def trace(kind, t, **fields):
        log(kind, t, **fields)
        if kind in ("commit", "failover", "restart"):
            ordered.append((kind, fields))

    s = simulate(cfg, trace=trace).summary
    untraced = simulate(cfg).summary
    assert {k: v for k, v in s.items() if k != "wall_seconds"} == {
        k: v for k, v in untraced.items() if k != "wall_seconds"}  # the trace is of this run

    # Each master numbers every key's versions one by one from the data it took office with
    # (a deposed master in a split brain goes on numbering its own; a restarted host numbers
    # from what its persistence kept).
    written: dict = defaultdict(dict)
    for kind, f in ordered:
        if kind in ("failover", "restart"):
            written[f["node"]] = {}
            continue
        last = written[f["node"]].get(f["key"])
        if last is not None:
            assert f["version"] == last + 1
        written[f["node"]][f["key"]] = f["version"]

    # Nothing is lost without a failover (or a crash whose failover falls after the end).
    if s["failovers"] == 0 and not cfg.faults.master_crash_at:
        assert s["lost_writes"] == 0 and s["lost_unacknowledged_writes"] == 0
    assert 0.0 <= s["lost_write_rate"] <= 1.0
    faults = cfg.faults
    assert s["failovers"] <= len(faults.master_crash_at) + len(faults.partitions)
    if not faults.master_crash_at and not faults.partitions:
        assert s["unavailable_writes"] == 0
    if cfg.replication.min_replicas_to_write == 0:
        assert s["refused_writes"] == 0
    if not faults.master_crash_at and not faults.partitions and cfg.replication.serve_stale_data:
        assert s["unavailable_reads"] == 0  # only a dead or unreachable node refuses reads
    # Every resync that landed is counted once, by kind.
    kinds = [f["resync"] for _, f in log.events["resync"]]
    assert (s["resyncs_partial"], s["resyncs_full"]) == (kinds.count("partial"),
                                                         kinds.count("full"))
    assert s["stale_reads"] <= s["reads"]
    assert s["restart_lost_writes"] <= s["lost_writes"]
    if not faults.master_recover_after:
        assert s["restart_lost_writes"] == 0 and s["keys_wiped"] == 0
    if s["write_outage_ms"]["max"] is not None:
        assert 0 < s["write_outage_ms"]["mean"] <= s["write_outage_ms"]["max"]
