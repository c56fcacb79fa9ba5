"""The README's fault figure: what a crash and a partition cost, as curves over seeds.

Two small studies, each a function returning plain lists (usable from a notebook), and
``plot_fault_study`` drawing both. Panel (a): acknowledged writes lost when the master
crashes, against a constant replication delay, asynchronous and with ``WAIT 1``, beside the
closed form W (d - L); the crash cuts the host off (``crash_mode = "network"``: a killed
process alone loses nothing already sent). Panel (b): acknowledged writes lost in a partition that isolates the
master with a quarter of the clients, against ``min_replicas_max_lag`` with
``min_replicas_to_write = 1``, beside the same partition without the setting.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from sim.analysis.analytic import expected_lost_writes
from sim.config.schema import Config
from sim.engine import simulate

WRITES_ONLY = {"cache.enabled": False, "workload.read_rate": 0.0}


def lost_at_crash(delays_s: list[float], wait_replicas: int, seeds: int,
                  write_rate: float = 1000.0, crash_mode: str = "network") -> list[float]:
    """Mean lost acknowledged writes over ``seeds`` runs, one crash each, per delay (s)."""
    means = []
    for delay in delays_s:
        lost = []
        for seed in range(seeds):
            cfg = Config.default().with_overrides({
                **WRITES_ONLY, "run.duration": 1.3, "run.warmup": 0.1, "run.seed": seed,
                "workload.write_rate": write_rate, "replication.delay": delay,
                "replication.wait_replicas": wait_replicas, "faults.master_crash_at": 1.0,
                "faults.crash_mode": crash_mode, "faults.failover_timeout": "0.1s"})
            lost.append(simulate(cfg).summary["lost_writes"])
        means.append(statistics.fmean(lost))
    return means


def lost_in_partition(max_lags_s: list[float | None], seeds: int,
                      partition_s: float = 10.0) -> list[float]:
    """Mean lost acknowledged writes in one partition per ``min_replicas_max_lag`` (None =
    no ``min_replicas_to_write``). The master and clients 0, 1 of 8 are cut off at 1 s;
    Sentinel fails over on its modelled timeline (down-after 5 s by default)."""
    means = []
    for lag in max_lags_s:
        setting = ({} if lag is None else {"replication.min_replicas_to_write": 1,
                                           "replication.min_replicas_max_lag": lag})
        lost = []
        for seed in range(seeds):
            cfg = Config.default().with_overrides({
                **WRITES_ONLY, **setting, "run.duration": partition_s + 2.0, "run.warmup": 0.5,
                "run.seed": seed, "faults.partitions": [
                    {"start": 1.0, "duration": partition_s, "nodes": ["master"],
                     "clients": [0, 1]}]})
            lost.append(simulate(cfg).summary["lost_writes"])
        means.append(statistics.fmean(lost))
    return means


DELAYS_S = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]
MAX_LAGS_S = [0.5, 1.0, 2.0, 4.0, 8.0]


def fault_study(seeds: int = 20) -> dict[str, Any]:
    """The numbers of both panels (lists over ``DELAYS_S`` and ``MAX_LAGS_S``)."""
    partition_seeds = max(2, seeds // 5)
    return {"seeds": seeds,
            "lost_async": lost_at_crash(DELAYS_S, 0, seeds),
            "lost_wait1": lost_at_crash(DELAYS_S, 1, seeds),
            "lost_bounded": lost_in_partition(MAX_LAGS_S, partition_seeds),
            "lost_unbounded": lost_in_partition([None], partition_seeds)[0]}


def plot_fault_study(path: str | Path, seeds: int = 20) -> None:
    """Draw both panels into ``path`` (PNG, SVG or PDF by its suffix)."""
    from sim.plot.style import save_figure

    save_figure(fault_study_figure(fault_study(seeds)), path, dpi=110)


def fault_study_figure(data: dict[str, Any]):
    """The README's fault figure from :func:`fault_study`'s numbers (a matplotlib Figure)."""
    from sim.plot import style

    with style.context():
        return _draw_fault_study(data)


def _draw_fault_study(data: dict[str, Any]):
    from matplotlib import ticker
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    from sim.plot import style

    delays, lags = DELAYS_S, MAX_LAGS_S
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    ms = [1e3 * d for d in delays]
    left.plot(ms, data["lost_async"], "o-", label="asynchronous (simulated)")
    left.plot(ms, data["lost_wait1"], "s-", label="WAIT 1 (simulated)")
    left.plot(ms, [expected_lost_writes(1000.0, d, reply_latency_s=250e-6) for d in delays],
              "k--", label="theory W (d - L)")
    left.set(xscale="log", yscale="symlog", xlabel="replication delay d (ms, constant)",
             ylabel="lost acknowledged writes per crash",
             title=f"(a) network crash (host cut off), 1000 writes/s,\n"
                   f"mean of {data['seeds']} seeds; a killed process loses none")
    left.set_ylim(bottom=0)
    style.number_axis(left.xaxis, log=True)
    left.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: style.format_number(v)))
    left.legend()
    right.plot(lags, data["lost_bounded"], "o-", label="min_replicas_to_write = 1")
    right.axhline(data["lost_unbounded"], color="k", ls="--", label="min_replicas_to_write = 0")
    right.plot(lags, [250.0 * lag for lag in lags], ":", color="grey",
               label="bound: 250 writes/s x max lag")
    right.set(xlabel="min_replicas_max_lag (s)", ylabel="lost acknowledged writes",
              title="(b) 10 s partition: master + 2 of 8 clients cut off")
    right.set_ylim(bottom=0)
    style.number_axis(right.yaxis, log=False)
    right.legend()
    return fig
