"""What the explore page's controls hold, and the experiment they stand for.

:class:`Settings` is one flat, frozen record of every control on the page, in the units a
student reads on it (rates per second, times in milliseconds unless the name says ``_s``).
``Settings.config()`` turns it into a validated :class:`sim.Config` (a bad combination, such as
``WAIT 2`` with one replica, raises the same ``ConfigError`` as the command line); the initial
values come from :meth:`Settings.from_config` of ``sim.Config.default()``, so the page starts at
repsim's defaults and keeps no defaults of its own, except for the three the page needs:
the run length, the crash time and the failover time (a default failover of 5 to 6 s would
not fit in a run of a few seconds).

The run length follows the precision: every run sets ``run.target_rel_ci`` to TARGET_REL_CI,
so it lasts at least a short minimum and goes on until the stale-read rate and the mean read
latency are each known within +-5 %, or until its budget of OPS_PER_RUN commands is spent.
Every readout on the page then has the same precision, whatever the rates.

Extension point: when ``replication.mode = "quorum"`` exists, its R, W and N become fields
here, a branch in :meth:`Settings.overrides` and three controls in :mod:`sim.explore.app`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import sim

__all__ = ["DELAY_KINDS", "STAMPEDE_OFF", "TARGET_REL_CI", "Settings"]

# The delay distributions a student can pick, each set from its mean (``delay_string``).
DELAY_KINDS = ("constant", "exp", "uniform", "lognormal", "pareto")
LOGNORMAL_SIGMA = 1.0  # a moderate tail: p99 about 10 times the median
PARETO_ALPHA = 2.5  # heavy tail with a finite variance (as in the README's examples)

TARGET_REL_CI = 0.05  # relative half-width of the 95% intervals a run aims for
MIN_RUN_SECONDS = 1.0  # simulated: the shortest run, a few batches even at low rates
OPS_PER_RUN = 160_000  # bound on the commands of one run, so that a rerun takes about 1 s
WARMUP_SHARE = 0.1  # of the run, before measuring starts
STAMPEDE_OFF = "off"  # no origin: a miss reads the store
AFTER_FAILOVER_S = 0.3  # simulated time kept after a failover, to see the new master work


def delay_string(kind: str, mean_ms: float) -> str:
    """The config string of a delay of ``kind`` with mean ``mean_ms`` milliseconds."""
    m = f"{mean_ms:.6g}"
    if kind == "constant":
        return f"{m}ms"
    if kind == "exp":
        return f"exp:{m}ms"
    if kind == "uniform":
        return f"uniform:0ms,{2 * mean_ms:.6g}ms"
    if kind == "lognormal":  # mean = median e^(σ²/2)
        median = mean_ms * math.exp(-LOGNORMAL_SIGMA**2 / 2)
        return f"lognormal:median={median:.6g}ms,sigma={LOGNORMAL_SIGMA:g}"
    if kind == "pareto":  # mean = scale α / (α - 1)
        scale = mean_ms * (PARETO_ALPHA - 1) / PARETO_ALPHA
        return f"pareto:scale={scale:.6g}ms,alpha={PARETO_ALPHA:g}"
    raise ValueError(f"delay kind {kind!r}: one of {', '.join(DELAY_KINDS)}")


@dataclass(frozen=True)
class Settings:
    """Every control of the page. Rates in operations per second (all clients together),
    times in milliseconds, ``crash_at_s`` in seconds of simulated time."""

    mode: str  # "open" (Poisson rates) or "closed" (each client sends a batch, waits)
    write_rate: float
    read_rate: float
    read_fraction: float  # closed mode
    clients: int
    keys: int
    zipf_s: float  # 0 = every key equally popular
    delay_kind: str
    delay_ms: float  # mean one-way replication delay
    replicas: int
    read_policy: str
    wait_replicas: int
    cache: bool
    ttl_ms: float
    on_write: str
    stampede: str  # "off": misses read the store; else the origin's cure (docs/design.md 9)
    recompute_ms: float  # the origin's recompute time (constant)
    origin_servers: int
    client_cache: bool  # each client's own cache, kept by CLIENT TRACKING invalidations
    cc_redirect: bool  # invalidations on a second connection (else on the data one)
    cc_placeholder: bool  # redis-py's in-progress marker
    batch_size: int
    linger_ms: float
    crash: bool
    crash_mode: str  # faults.crash_mode: "process" loses nothing on the wire, "network" does
    crash_at_s: float
    failover_ms: float
    seed: int
    key_ttl_ms: float  # the store's own TTL (workload.key_ttl), 0 = keys never expire
    replica_clock_ms: float  # every replica's clock minus the master's (negative: behind)
    replica_expiry: str  # "clock" (Redis 3.2+) or "master_del"

    @classmethod
    def from_config(cls, config: sim.Config, **changes: Any) -> Settings:
        """The controls showing ``config`` (the page's crash defaults for the crash controls).

        A delay of a kind the page does not offer (``empirical:``) shows as exponential
        with the same mean."""
        wl, rep, cache, pipe = (config.workload, config.replication, config.cache,
                                config.pipeline)
        crashes = config.faults.master_crash_at
        kind = rep.delay.kind if rep.delay.kind in DELAY_KINDS else "exp"
        offsets = config.clocks.offsets
        skew_s = offsets[1] - offsets[0] if len(offsets) > 1 else 0.0
        settings = cls(
            mode=wl.mode, write_rate=wl.write_rate, read_rate=wl.read_rate,
            read_fraction=wl.read_fraction, clients=wl.clients, keys=wl.keys,
            zipf_s=wl.zipf_s if wl.key_distribution == "zipf" else 0.0,
            delay_kind=kind, delay_ms=rep.delay.mean * 1e3, replicas=rep.replicas,
            read_policy=rep.read_policy, wait_replicas=rep.wait_replicas,
            cache=cache.enabled, ttl_ms=cache.ttl * 1e3, on_write=cache.on_write,
            stampede=cache.stampede if cache.fill_from == "origin" else STAMPEDE_OFF,
            recompute_ms=config.origin.recompute_time.mean * 1e3,
            origin_servers=config.origin.servers,
            client_cache=config.client_cache.enabled,
            cc_redirect=config.client_cache.connection == "redirect",
            cc_placeholder=config.client_cache.placeholder,
            batch_size=pipe.batch_size, linger_ms=pipe.linger * 1e3,
            crash=bool(crashes), crash_mode=config.faults.crash_mode,
            crash_at_s=crashes[0] if crashes else 1.5,
            failover_ms=500.0, seed=config.run.seed, key_ttl_ms=wl.key_ttl * 1e3,
            replica_clock_ms=round(skew_s * 1e3, 9), replica_expiry=rep.replica_expiry)
        return replace(settings, **changes)

    @classmethod
    def default(cls) -> Settings:
        """The page's starting point: repsim's default experiment."""
        return cls.from_config(sim.Config.default())

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def delay(self) -> str:
        """The replication delay as a config string."""
        return delay_string(self.delay_kind, self.delay_ms)

    def ops_per_s(self) -> float:
        """Commands per second the run is expected to carry: the offered rates in open
        mode, in closed mode the no-queueing rate of every client (an upper bound)."""
        if self.mode == "open":
            return self.read_rate + self.write_rate
        from sim.analysis.analytic import closed_loop_throughput

        config = sim.Config.default()
        per_client = closed_loop_throughput(
            self.batch_size, config.network.client_latency.mean,
            config.server.batch_overhead.mean, config.server.service_time.mean)
        return self.clients * per_client

    def run_seconds(self) -> tuple[float, float]:
        """(shortest, longest) simulated seconds of one run: MIN_RUN_SECONDS (longer when a
        crash and its failover need it) up to the time OPS_PER_RUN commands take; the run
        stops in between when its intervals reach TARGET_REL_CI."""
        shortest = MIN_RUN_SECONDS
        if self.crash:
            shortest = max(shortest, self.crash_at_s + self.failover_ms / 1e3 + AFTER_FAILOVER_S)
        rate = self.ops_per_s()
        longest = shortest if rate <= 0 else max(shortest, OPS_PER_RUN / rate)
        return shortest, longest

    def overrides(self) -> dict[str, Any]:
        """The ``{"section.key": value}`` overrides of the default config these controls set."""
        shortest, longest = self.run_seconds()
        out: dict[str, Any] = {
            "run.duration": shortest, "run.warmup": WARMUP_SHARE * shortest,
            "run.target_rel_ci": TARGET_REL_CI, "run.max_duration": longest,
            "run.seed": self.seed,
            "workload.mode": self.mode, "workload.clients": self.clients,
            "workload.read_rate": self.read_rate, "workload.write_rate": self.write_rate,
            "workload.read_fraction": self.read_fraction, "workload.keys": self.keys,
            "workload.key_distribution": "zipf", "workload.zipf_s": self.zipf_s,
            "replication.replicas": self.replicas, "replication.delay": self.delay,
            "replication.read_policy": self.read_policy,
            "replication.wait_replicas": self.wait_replicas,
            "cache.enabled": self.cache, "cache.ttl": f"{self.ttl_ms:.6g}ms",
            "cache.on_write": self.on_write,
            "client_cache.enabled": self.client_cache,
            "client_cache.connection": "redirect" if self.cc_redirect else "same",
            "client_cache.placeholder": self.cc_placeholder,
            "pipeline.batch_size": self.batch_size, "pipeline.linger": f"{self.linger_ms:.6g}ms",
        }
        if self.cache and self.stampede != STAMPEDE_OFF:
            out.update({"cache.fill_from": "origin", "cache.stampede": self.stampede,
                        "origin.recompute_time": f"{self.recompute_ms:.6g}ms",
                        "origin.servers": self.origin_servers,
                        # memcache's 10 s would outlast the page's runs: a lease per TTL
                        "cache.lease_interval": f"{self.ttl_ms:.6g}ms"})
        if self.key_ttl_ms > 0:
            out["workload.key_ttl"] = f"{self.key_ttl_ms:.6g}ms"
            out["replication.replica_expiry"] = self.replica_expiry
            if self.replica_clock_ms:
                out["clocks.offsets"] = [0.0] + [self.replica_clock_ms / 1e3] * self.replicas
        if self.crash:
            out["faults.master_crash_at"] = self.crash_at_s
            out["faults.crash_mode"] = self.crash_mode
            out["faults.failover_timeout"] = f"{self.failover_ms:.6g}ms"
        return out

    def config(self) -> sim.Config:
        """The validated experiment; raises ``ConfigError`` for a bad combination."""
        return sim.Config.default().with_overrides(self.overrides())
