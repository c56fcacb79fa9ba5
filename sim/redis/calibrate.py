"""Fit the closed-loop model to measurements of a real Redis and write a config.

The model is the simulator's: a client sends B commands as one message, one trip out
(one-way latency L), a single-threaded server pays ``batch_overhead`` o per message and
``service_time`` s per command, one trip back. With one client a message takes
2L + o + B s, so the throughput is B / (2L + o + B s) commands per second. With C
clients the messages queue at the server, which saturates at B / (o + B s); in between,
exact mean value analysis (MVA) of the closed network "delay 2L, then one queue with
service o + B s" gives the curve. All times in seconds.

The fit is least squares on the logarithm of throughput (relative errors, so 5k/s and
1M/s points weigh alike) over log-parameters (so they stay positive), by
Levenberg-Marquardt with numpy only, made robust to a few dented points by iteratively
reweighting with the soft-L1 loss.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.config.distributions import format_duration
from sim.plot.style import styled
from sim.redis.measure import LoopPoint

__all__ = [
    "Fit",
    "closed_loop_model",
    "config_toml",
    "error_table",
    "fit_closed_loop",
    "plot_calibration",
    "calibration_figure",
]

#: Parameters below this many seconds are indistinguishable from zero on any machine.
_FLOOR_S = 1e-9
#: Relative error (in log terms) beyond which a point counts less and less in the fit.
_ROBUST_SCALE = 0.15
_ROBUST_ROUNDS = 5


def closed_loop_model(client_latency_s: float, batch_overhead_s: float, service_time_s: float,
                      depth: Sequence[int] | np.ndarray, clients: Sequence[int] | np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Throughput (commands/s) and mean message latency (s) of the closed loop, by exact MVA.

    ``depth`` and ``clients`` are arrays of equal length, one entry per point. The server
    is treated as a queue with exponential service of mean o + B s, which is exact for one
    client and for saturation and slightly pessimistic in between.
    """
    depth = np.asarray(depth, dtype=float)
    clients = np.asarray(clients, dtype=int)
    think = 2.0 * client_latency_s
    demand = batch_overhead_s + depth * service_time_s
    queue = np.zeros_like(demand)
    rate = np.zeros_like(demand)  # messages per second
    for n in range(1, int(clients.max()) + 1):
        active = clients >= n  # points with fewer clients keep their last value
        response = demand * (1.0 + queue)
        new_rate = n / (think + response)
        rate = np.where(active, new_rate, rate)
        queue = np.where(active, new_rate * response, queue)
    return rate * depth, clients / rate


@dataclass(frozen=True)
class Fit:
    """Fitted parameters (seconds) and the relative error of the fit at every point.

    ``batch_overheads_s`` and ``service_times_s`` hold one per-message and one
    per-command time for each command measured (SETs cost more than GETs: they
    allocate, and a master copies them to its replicas with one more write per
    message); ``batch_overhead_s`` and ``service_time_s`` are their mix for a workload
    with ``read_fraction`` GETs, the single values the simulator uses. ``throughput_errors[i]`` is model /
    measured - 1 for point i (in the order given); ``latency_errors`` compares the
    model's mean latency with the measured p50.
    """

    client_latency_s: float
    batch_overheads_s: dict[str, float]
    service_times_s: dict[str, float]
    throughput_errors: np.ndarray
    latency_errors: np.ndarray
    read_fraction: float = 0.9

    def _mix(self, times: dict[str, float]) -> float:
        if "GET" in times and "SET" in times:
            return self.read_fraction * times["GET"] + (1 - self.read_fraction) * times["SET"]
        return float(np.mean(list(times.values())))

    @property
    def batch_overhead_s(self) -> float:
        """Per-message time of the read/write mix (reads are GETs, writes SETs)."""
        return self._mix(self.batch_overheads_s)

    @property
    def service_time_s(self) -> float:
        """Per-command time of the read/write mix (reads are GETs, writes SETs)."""
        return self._mix(self.service_times_s)

    @property
    def replica_apply_time_s(self) -> float:
        """A replica applying a write does the work of a SET (or of the mix, unmeasured)."""
        return self.service_times_s.get("SET", self.service_time_s)

    @property
    def rms_error(self) -> float:
        """Root mean square of the relative throughput errors."""
        return float(np.sqrt(np.mean(self.throughput_errors**2)))

    @property
    def max_error(self) -> float:
        """Largest absolute relative throughput error."""
        return float(np.max(np.abs(self.throughput_errors)))

    def predict(self, depth: Sequence[int], clients: Sequence[int],
                command: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The fitted model's throughput (commands/s) and mean latency (s) for ``command``
        (default: the mix)."""
        if command is None:
            overhead, service = self.batch_overhead_s, self.service_time_s
        else:
            overhead, service = self.batch_overheads_s[command], self.service_times_s[command]
        return closed_loop_model(self.client_latency_s, overhead, service, depth, clients)


def _initial_guesses(depth: np.ndarray, clients: np.ndarray, tput: np.ndarray, which: np.ndarray,
                     n: int) -> list[np.ndarray]:
    """Starting points [L, o per command, s per command] from the model's straight lines.

    Message time B / X is 2L + o + B s with one client and o + B s at saturation, so a
    line through each, per command, gives (2L + o, s) and (o, s).
    """
    per_message = depth / tput
    lines = []
    for c in range(n):
        one = (which == c) & (clients == clients.min())
        many = (which == c) & (clients == clients.max())
        a1, s1 = _line(depth[one], per_message[one])
        a2, s2 = _line(depth[many], per_message[many])
        overhead = max(min(a2, a1), 1e-7)
        lines.append((max(a1, 1e-6), overhead, max(min(s1, s2), 1e-8)))
    a1 = np.array([x[0] for x in lines])
    overhead = np.array([x[1] for x in lines])
    service = np.array([x[2] for x in lines])
    latency = max(float(np.median((a1 - overhead) / 2)), 1e-7)
    return [
        np.concatenate([[latency], overhead, service]),
        np.concatenate([[float(np.median(a1)) / 2], np.full(n, 1e-6), service]),  # all network
        np.concatenate([[1e-6], a1, service]),  # all server
    ]


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of the least-squares line (a flat line through one point)."""
    if len(x) < 2 or np.ptp(x) == 0:
        return float(np.mean(y)), 0.0
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def _levenberg_marquardt(residuals, theta: np.ndarray, iterations: int = 200) -> tuple[np.ndarray, float]:
    """Minimise sum(residuals(theta)**2) from ``theta``; returns (theta, cost)."""
    r = residuals(theta)
    cost = float(r @ r)
    damping = 1e-3
    for _ in range(iterations):
        jac = np.empty((len(r), len(theta)))
        for j in range(len(theta)):
            step = np.zeros_like(theta)
            step[j] = 1e-6
            jac[:, j] = (residuals(theta + step) - r) / 1e-6
        gradient = jac.T @ r
        normal = jac.T @ jac
        improved = False
        while damping < 1e10:
            delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12), -gradient)
            trial = theta + delta
            r_trial = residuals(trial)
            cost_trial = float(r_trial @ r_trial)
            if np.isfinite(cost_trial) and cost_trial < cost:
                theta, r, damping, improved = trial, r_trial, max(damping / 10, 1e-12), True
                converged = cost - cost_trial < 1e-12 * max(cost, 1e-30)
                cost = cost_trial
                break
            damping *= 10
        if not improved or converged:
            break
    return theta, cost


def fit_closed_loop(points: Sequence[LoopPoint], read_fraction: float = 0.9) -> Fit:
    """Least-squares fit of client_latency and, per command, batch_overhead and
    service_time to ``points``.

    Points with one client pin 2L + o and s; points with several clients pin o + B s at
    saturation, which separates o from L. Both kinds are needed for a meaningful fit.
    ``read_fraction`` only weighs the per-command times into ``Fit.service_time_s``.
    """
    commands = sorted({p.command for p in points})
    n_params = 1 + 2 * len(commands)
    if len(points) < n_params:
        raise ValueError(f"need at least {n_params} measured points to fit {n_params} "
                         f"parameters, got {len(points)}")
    depth = np.array([p.depth for p in points], dtype=float)
    clients = np.array([p.clients for p in points], dtype=int)
    which = np.array([commands.index(p.command) for p in points])
    n = len(commands)
    tput = np.array([p.throughput_ops_s for p in points], dtype=float)
    log_tput = np.log(tput)
    weights = np.ones_like(log_tput)

    def residuals(log_theta: np.ndarray) -> np.ndarray:
        # A trial step far off (noisy points) overflows exp or log: its cost is then not
        # finite and the step is refused, so numpy's warning would say nothing of use.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            theta = np.exp(log_theta)
            overhead, service = theta[1:1 + n][which], theta[1 + n:][which]
            model, _ = closed_loop_model(theta[0], overhead, service, depth, clients)
            return np.sqrt(weights) * (np.log(model) - log_tput)

    best: tuple[np.ndarray, float] | None = None
    for guess in _initial_guesses(depth, clients, tput, which, n):
        theta, cost = _levenberg_marquardt(residuals, np.log(guess))
        if best is None or cost < best[1]:
            best = (theta, cost)
    assert best is not None
    # A point that a shared machine dented (a slice losing tens of milliseconds) should
    # not drag the whole curve: reweight by the soft-L1 loss and refit (IRLS).
    for _ in range(_ROBUST_ROUNDS):
        weights[:] = 1.0
        raw = residuals(best[0])
        weights[:] = 1.0 / np.sqrt(1.0 + (raw / _ROBUST_SCALE) ** 2)
        best = _levenberg_marquardt(residuals, best[0])
    theta = [max(float(v), _FLOOR_S) for v in np.exp(best[0])]
    overheads = dict(zip(commands, theta[1:1 + n], strict=True))
    services = dict(zip(commands, theta[1 + n:], strict=True))
    model_tput, model_latency = closed_loop_model(
        theta[0], np.array(theta[1:1 + n])[which], np.array(theta[1 + n:])[which], depth, clients)
    p50 = np.array([p.latency_p50_s for p in points])
    return Fit(theta[0], overheads, services, model_tput / tput - 1.0,
               model_latency / p50 - 1.0, read_fraction)


def _duration_text(seconds: float) -> str:
    """Three significant digits as a config duration ("12.3us")."""
    return format_duration(float(f"{seconds:.3g}"))


def config_toml(fit: Fit, header: Sequence[str] = ()) -> str:
    """A config file with the fitted values; ``header`` lines become leading comments.

    ``service_time`` is the mix of the per-command times for ``fit.read_fraction``
    reads; ``replica_apply_time`` is the SET time: a replica applying a write from its
    stream does the work of serving that SET.
    """
    lines = [f"# {line}" for line in header]
    per_command = ", ".join(
        f"{c} {_duration_text(fit.batch_overheads_s[c])} + {_duration_text(t)} per command"
        for c, t in fit.service_times_s.items())
    lines += [
        f"# fit over {len(fit.throughput_errors)} points: rms error {fit.rms_error:.1%}, "
        f"max {fit.max_error:.1%} of throughput",
        f"# per message: {per_command}",
        f"# batch_overhead and service_time below are the mix for a read fraction of "
        f"{fit.read_fraction:g}",
        "",
        "[network]",
        f'client_latency = "{_duration_text(fit.client_latency_s)}"',
        "",
        "[server]",
        f'service_time = "{_duration_text(fit.service_time_s)}"',
        f'batch_overhead = "{_duration_text(fit.batch_overhead_s)}"',
        f'replica_apply_time = "{_duration_text(fit.replica_apply_time_s)}"',
        "",
    ]
    return "\n".join(lines)


def plot_calibration(points: Sequence[LoopPoint], fit: Fit, path: Path | str, title: str = "") -> Path:
    """Write :func:`calibration_figure` to ``path`` (format from the suffix); return the path."""
    from sim.plot.style import save_figure

    return save_figure(calibration_figure(points, fit, title), path, dpi=110)


@styled
def calibration_figure(points: Sequence[LoopPoint], fit: Fit, title: str = ""):
    """Measured (markers) against fitted (lines) throughput and latency over pipeline depth.

    One colour per client count, one marker and line style per command. Latency: measured p50 (filled) and mean
    (hollow) against the model's mean; a gap between p50 and mean is a heavy tail the
    model does not have. Returns a matplotlib Figure.
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend
    from matplotlib.ticker import FuncFormatter

    from sim.plot.style import format_number, number_axis

    fig = Figure(figsize=(12, 5.0), layout="constrained")
    ax_tput, ax_lat = fig.subplots(1, 2)
    client_counts = sorted({p.clients for p in points})
    commands = sorted({p.command for p in points}, reverse=True)
    markers = dict(zip(commands, "os^v", strict=False))
    styles = dict(zip(commands, ["-", "--", ":", "-."], strict=False))
    grid = np.unique(np.round(np.geomspace(1, max(p.depth for p in points), 60)).astype(int))
    for index, clients in enumerate(client_counts):
        color = f"C{index % 8}"  # the style's Okabe-Ito cycle
        who = f"{clients} client{'s' if clients > 1 else ''}"
        for command in commands:
            mine = sorted((p for p in points if (p.command, p.clients) == (command, clients)),
                          key=lambda p: p.depth)
            depths = [p.depth for p in mine]
            marker = markers[command]
            ax_tput.plot(depths, [p.throughput_ops_s for p in mine], marker, color=color,
                         linestyle="none", label=f"{command}, {who}")
            ax_lat.plot(depths, [p.latency_p50_s * 1e3 for p in mine], marker, color=color,
                        linestyle="none", label=f"{command} p50, {who}")
            ax_lat.plot(depths, [p.latency_mean_s * 1e3 for p in mine], marker, color=color,
                        linestyle="none", markerfacecolor="none", label=f"{command} mean, {who}")
            model_tput, model_lat = fit.predict(grid, np.full(len(grid), clients), command)
            style = styles[command]
            ax_tput.plot(grid, model_tput, style, color=color, label=f"model {command}, {who}")
            ax_lat.plot(grid, model_lat * 1e3, style, color=color, label=f"model {command}, {who}")
    for ax, ylabel in ((ax_tput, "throughput (commands/s)"), (ax_lat, "latency per message (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        number_axis(ax.yaxis, log=True)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v)))
        ax.set_xlabel("pipeline depth B (commands per message)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="x-small", ncols=2)
    ax_tput.set_title("throughput: measured and fitted")
    ax_lat.set_title("latency: measured p50, mean; model mean")
    fig.suptitle(textwrap.fill(title or (
        f"closed-loop fit: L = {fit.client_latency_s * 1e6:.3g} us, "
        + ", ".join(f"{c}: o = {fit.batch_overheads_s[c] * 1e6:.3g} us, s = {t * 1e6:.3g} us"
                    for c, t in fit.service_times_s.items())
        + "; "
        f"throughput error rms {fit.rms_error:.0%}, max {fit.max_error:.0%}"), 100),
        fontsize=12)
    return fig


def error_table(points: Sequence[LoopPoint], fit: Fit) -> list[dict]:
    """One row per point: measured and fitted throughput and latency, and the errors."""
    model = [fit.predict([p.depth], [p.clients], p.command) for p in points]
    model_tput = [float(t[0]) for t, _ in model]
    model_lat = [float(r[0]) for _, r in model]
    return [
        {"command": p.command, "clients": p.clients, "depth": p.depth,
         "measured_ops_s": p.throughput_ops_s, "model_ops_s": float(mt),
         "throughput_error": float(et),
         "measured_p50_ms": p.latency_p50_s * 1e3, "model_mean_ms": float(ml) * 1e3}
        for p, mt, ml, et in zip(points, model_tput, model_lat, fit.throughput_errors, strict=True)
    ]
