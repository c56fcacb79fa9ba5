"""Quorum mode and visibility probes against theory: the PBS closed form for random partial
quorums, an independent WARS Monte Carlo (Bailis et al., VLDB 2012, section 5.1), and the
leader-mode t-visibility closed form of ``sim.analysis.analytic``.

Probes of different commits (of different keys, at low load) are independent, so each grid
point's standard error is binomial, sqrt(p (1 - p) / n), taken at the theoretical p (which
also covers points where every probe was consistent). Checks accept Z_CHECK standard errors
plus a stated floor for what the simulator models and the theory leaves out (FIFO links).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import Z_CHECK, config, long_run

from sim import simulate
from sim.analysis.analytic import t_visibility_exp_delay

pytestmark = pytest.mark.heavy

LOW_LOAD = {"server.service_time": "0s", "server.batch_overhead": "0s",
            "server.replica_apply_time": "0s", "cache.enabled": False,
            "workload.key_distribution": "uniform", "workload.keys": 10_000,
            "metrics.visibility_probes": True}


def check_point(p_sim: float, n: int, p_theory: float, floor: float, what: str) -> None:
    se = math.sqrt(max(p_theory * (1 - p_theory), 1e-12) / n)
    tolerance = Z_CHECK * se + floor
    assert abs(p_sim - p_theory) <= tolerance, (
        f"{what}: simulated {p_sim:.4f} (n={n}) vs theory {p_theory:.4f}, allowed {tolerance:.4f}")


@pytest.mark.parametrize(("n", "r", "w"), [(3, 1, 1), (3, 2, 1), (5, 1, 2), (5, 2, 2)])
def test_consistency_at_commit_matches_the_random_quorum_closed_form(n, r, w):
    """PBS, k = 1: when a write commits exactly W peers hold it, a uniformly random set (acks
    are instant and delays i.i.d.), and a read at that instant (reads far faster than writes,
    so no other peer applies meanwhile) asks R uniformly random peers: it misses the write
    with probability C(N-W, R) / C(N, R)."""
    result = simulate(config({
        **LOW_LOAD, "replication.mode": "quorum", "replication.replicas": n,
        "quorum.read": r, "quorum.write": w, "quorum.write_delay": "exp:10ms",
        "quorum.ack_delay": "0s", "quorum.read_delay": "exp:1us",
        "quorum.response_delay": "exp:1us", "workload.write_rate": 100,
        "workload.read_rate": 10, "metrics.visibility_share": 1.0,
        "metrics.visibility_points": 2, "metrics.visibility_horizon": "1ms",
        "run.duration": long_run(30.0), "run.warmup": 1.0}))
    vis = result["visibility"]
    theory = 1 - math.comb(n - w, r) / math.comb(n, r)
    # Another peer applies during the ~1 us the read travels with probability ~ N us / 10 ms.
    check_point(vis["p_consistent_at_commit"], vis["curve"][0]["n"], theory, 1e-3,
                f"N={n} R={r} W={w} at commit")


def wars_monte_carlo(n: int, r: int, w: int, mean_w_s: float, mean_ars_s: float,
                     ts_s: np.ndarray, trials: int, seed: int) -> np.ndarray:
    """P(consistent) of a read started t after commit under WARS (PBS section 5.1): write
    delays W_j, acks A_j, reads R_j, responses S_j, i.i.d. exponential; the write commits at
    the W-th smallest W_j + A_j; the read returns from the R peers with the smallest
    R_j + S_j and is consistent if one of them had applied the write: commit + t + R_j >= W_j."""
    rng = np.random.default_rng(seed)
    wd = rng.exponential(mean_w_s, (trials, n))
    ack = rng.exponential(mean_ars_s, (trials, n))
    rd = rng.exponential(mean_ars_s, (trials, n))
    resp = rng.exponential(mean_ars_s, (trials, n))
    commit = np.sort(wd + ack, axis=1)[:, w - 1]
    first = np.argsort(rd + resp, axis=1)[:, :r]
    rows = np.arange(trials)[:, None]
    slack = commit[:, None] + rd[rows, first] - wd[rows, first]  # >= -t means consistent
    return np.array([np.mean((slack + t >= 0).any(axis=1)) for t in ts_s])


def wars_curve(r: int, w: int, overrides: dict) -> tuple[list[dict], np.ndarray]:
    """The simulated curve of the WARS setting (N = 3, exponential W of 4 ms mean, A = R = S
    of 1 ms) with ``overrides``, and the Monte Carlo's P(consistent) at its points."""
    result = simulate(config({
        **LOW_LOAD, "replication.mode": "quorum", "replication.replicas": 3,
        "quorum.read": r, "quorum.write": w, "quorum.write_delay": "exp:4ms",
        "quorum.ack_delay": "exp:1ms", "quorum.read_delay": "exp:1ms",
        "quorum.response_delay": "exp:1ms", "workload.read_rate": 5,
        "metrics.visibility_share": 1.0, "metrics.visibility_points": 25,
        "metrics.visibility_horizon": "24ms", "run.warmup": 1.0, **overrides}))
    curve = result["visibility"]["curve"]
    ts = np.array([row["t_ms"] for row in curve]) * 1e-3
    return curve, wars_monte_carlo(3, r, w, 4e-3, 1e-3, ts, 400_000, seed=11)


@pytest.mark.parametrize(("r", "w"), [(1, 1), (2, 1), (1, 2)])
def test_t_visibility_matches_an_independent_wars_monte_carlo(r, w):
    curve, theory = wars_curve(r, w, {"workload.write_rate": 20,
                                      "run.duration": long_run(150.0)})
    # The Monte Carlo's own error (n = 400,000) and FIFO: at 2.5 writes/s per link with
    # 4 ms delays a write waits behind an earlier one about 1% of the time.
    for row, p in zip(curve, theory, strict=True):
        check_point(row["p_consistent"], row["n"], p, 0.005 + 3 * math.sqrt(p * (1 - p) / 4e5),
                    f"R={r} W={w} t={row['t_ms']} ms")
    assert curve[0]["p_consistent"] < 0.99 < curve[-1]["p_consistent"]


def test_independent_links_reproduce_wars_with_two_clients_where_fifo_links_block():
    """Two clients writing 200/s each: on a FIFO link a write often waits behind the one
    before (4 ms delays, 5 ms apart), which WARS does not model, so the curve falls below
    the Monte Carlo; with ``quorum.link_order = "independent"`` each message has its own
    delay and the same few clients reproduce it."""
    below = {}
    for order in ("independent", "fifo"):
        curve, theory = wars_curve(1, 1, {
            "quorum.link_order": order, "workload.clients": 2, "workload.write_rate": 400,
            "run.duration": long_run(30.0)})
        below[order] = 0
        for row, p in zip(curve, theory, strict=True):
            monte_carlo = 3 * math.sqrt(p * (1 - p) / 4e5)
            if order == "independent":
                check_point(row["p_consistent"], row["n"], p, monte_carlo,
                            f"independent links, t={row['t_ms']} ms")
            se = math.sqrt(max(p * (1 - p), 1e-12) / row["n"])
            below[order] += row["p_consistent"] < p - Z_CHECK * se - monte_carlo
    assert below["independent"] == 0 < below["fifo"]


def test_leader_probes_match_the_fifo_exponential_closed_form():
    """Leader mode, one replica: a probe t after a commit reads the replica after the
    client's 250 us trip; it is fresh when the write has crossed the FIFO link (Exp(2 ms)
    delays, Poisson writes at 200/s), analytic.t_visibility_exp_delay."""
    result = simulate(config({
        **LOW_LOAD, "replication.replicas": 1, "replication.delay": "exp:2ms",
        "replication.read_policy": "replicas", "network.client_latency": "250us",
        "workload.write_rate": 200, "workload.read_rate": 10,
        "metrics.visibility_share": 0.5, "metrics.visibility_points": 41,
        "metrics.visibility_horizon": "20ms", "run.duration": long_run(40.0),
        "run.warmup": 1.0}))
    curve = result["visibility"]["curve"]
    for row in curve:
        theory = float(t_visibility_exp_delay(row["t_ms"] * 1e-3, 2e-3,
                                              link_write_rate_per_s=200.0,
                                              read_offset_s=250e-6))
        check_point(row["p_consistent"], row["n"], theory, 0.0, f"t={row['t_ms']} ms")
    # 1 - p(t) ~ 1.4 exp(-(t + 0.25 ms) / 2 ms) in the tail: 99.9% at about 14.2 ms.
    vis = result["visibility"]
    lo, hi = vis["t_999_ms_ci95"]
    hi = math.inf if hi is None else hi  # no upper end: the grid's tail is too thin to bound it
    assert lo <= vis["t_999_ms"] <= hi
    assert lo - 0.5 <= 2 * math.log(1000 * 1.4) - 0.25 <= hi + 0.5  # 0.5 ms: the grid step
