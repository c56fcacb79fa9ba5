"""``repsim validate --failover``: kill a real master under Sentinel, simulate the same, print both.

The grid is every crash mode x write rate x delay asked for, plus, with ``--restart``, a
restart case per write rate (process crash, the first delay). Each case starts its own
servers on loopback (:mod:`sim.redis.failover`) and stops them, proxies and temporary folder
included, before the next. Output: a markdown table of real against simulated lost writes,
loss window, write outage and Sentinel's phases, and with ``--figure`` a PNG of the same.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from sim.analysis.report import format_number

RESTART_AFTER_S = 16.0  # writes after a restart: past Sentinel's demotion (about 12 s)


def cases(args: argparse.Namespace) -> list:
    """The cases the arguments ask for, in run order."""
    from sim.redis.failover import FailoverCase

    rates = args.write_rate or [500.0, 1000.0]
    delays = [d or 0.0 for d in (args.delay if args.delay != [None] else [0.0, 0.02, 0.05])]
    out = [FailoverCase(rate, delay, mode, None, args.down_after, args.sentinels,
                        after_s=args.after, poll_s=args.poll)
           for mode in args.crash_mode for rate in rates for delay in delays]
    if args.restart is not None:
        out += [FailoverCase(rate, delays[0], "process", args.restart, args.down_after,
                             args.sentinels, after_s=max(args.after, RESTART_AFTER_S),
                             poll_s=args.poll) for rate in rates]
    return out


def _ms(value: Any) -> str:
    return "-" if value is None else format_number(value, 3)


def _n(value: Any) -> str:
    return "-" if value is None else format_number(round(value, 1))


def format_table(results: list[dict[str, Any]]) -> str:
    """One row per case: real / simulated side by side (times in ms)."""
    lines = ["| crash | writes/s | delay ms | restart | lost real | lost sim | window ms real "
             "| window ms sim | outage ms real | outage ms sim | detected real / sim "
             "| promoted real / sim | confirmed real / sim | lost to restart real / sim "
             "| proxy delay max ms |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- "
             "| --- | --- | ---: |"]
    for r in results:
        c, real, sim = r["case"], r["real"], r["sim"]
        rp, sp = real["phases_ms"], sim["phases_ms"]
        restart = "-" if c.restart_s is None else f"{c.restart_s:g} s"
        lines.append(
            f"| {c.crash_mode} | {c.write_rate:g} | {1e3 * c.delay_s:g} | {restart} "
            f"| {real['lost_writes']} | {_n(sim['lost_writes'])} "
            f"| {_ms(real['data_loss_window_ms'])} | {_ms(sim['data_loss_window_ms'])} "
            f"| {_ms(real['write_outage_ms'])} | {_ms(sim['write_outage_ms'])} "
            + " ".join(f"| {_ms(rp[k])} / {_ms(sp[k])}"
                       for k in ("detected", "promoted", "confirmed"))
            + f" | {real['restart_lost_writes']} / {_n(sim['restart_lost_writes'])} "
            f"| {_ms(real.get('realised_delay_max_ms'))} |")
    return "\n".join(lines)


def _bar_text(value: float) -> str:
    """A bar's value as the table prints it: whole above 100 (12,417; 1,670), else three
    digits (53.4, 0)."""
    from sim.plot.style import format_number

    return f"{value:,.0f}" if abs(value) >= 100 else format_number(value, 3)


def figure(results: list[dict[str, Any]]):
    """Lost writes and write outage per case, real beside simulated (a matplotlib Figure).

    Every bar carries its value, so a case that lost nothing shows a "0" where a bar of zero
    length would show nothing; the two sources differ in colour and hatching (greyscale)."""
    from matplotlib.figure import Figure  # no pyplot: no global state

    from sim.plot import style

    with style.context():
        labels = [r["case"].label for r in results]
        fig = Figure(figsize=(12, 0.5 * len(results) + 2.2), layout="constrained")
        lost, outage = fig.subplots(1, 2, sharey=True)
        ys = list(range(len(results)))
        sources = (("real", "real Redis + Sentinel", style.color(0), ""),
                   ("sim", "simulator (mean of seeds)", style.color(1), "//"))
        for ax, key, title in ((lost, "lost_writes", "acknowledged writes lost"),
                               (outage, "write_outage_ms", "write outage (ms)")):
            top = max((r[side][key] or 0 for r in results for side in ("real", "sim")),
                      default=0)
            for shift, (side, label, colour, hatch) in zip((-0.2, 0.2), sources, strict=True):
                values = [r[side][key] or 0 for r in results]
                bars = ax.barh([y + shift for y in ys], values, height=0.4, label=label,
                               color=colour, hatch=hatch, edgecolor="white")
                ax.bar_label(bars, [_bar_text(v) for v in values], padding=3,
                             fontsize="small")
            if key == "lost_writes" and top > 100:
                ax.set_xscale("symlog", linthresh=10)
                ax.set_xlim(0, top * 4)  # room for the labels of the longest bars
                ax.xaxis.set_major_formatter(lambda v, _: style.format_number(v))
            else:
                ax.set_xlim(0, max(top, 1) * 1.2)
                style.number_axis(ax.xaxis, log=False)
            ax.set_title(title)
            ax.grid(axis="y", visible=False)
        lost.set_yticks(ys, labels)
        lost.invert_yaxis()
        fig.legend(*lost.get_legend_handles_labels(), loc="outside lower center", ncols=2)
        fig.suptitle("validate --failover: a real master killed under Sentinel, and the model")
    return fig


def figure_png(results: list[dict[str, Any]]) -> bytes:
    """:func:`figure` as PNG bytes, with the version and commit in its metadata."""
    from sim.provenance import creator

    buffer = io.BytesIO()
    figure(results).savefig(buffer, format="png", dpi=120, metadata={"Creator": creator()})
    return buffer.getvalue()


def _plain(result: dict[str, Any]) -> dict[str, Any]:
    case = result["case"]
    return {"case": {name: getattr(case, name) for name in case.__dataclass_fields__},
            "real": result["real"], "sim": result["sim"]}


def run(args: argparse.Namespace, write) -> int:
    """The ``--failover`` handler (``write`` prints a line); returns the exit status."""
    import shutil

    from sim.experiment.store import write_atomic
    from sim.redis.failover import compare_case
    from sim.redis.measure import MeasureError

    if shutil.which("redis-server") is None:
        raise MeasureError("--failover starts its own servers and needs redis-server on PATH "
                           "(Debian/Ubuntu: apt-get install redis-server)")
    grid = cases(args)
    results = []
    for i, case in enumerate(grid):
        if not args.json:
            write(f"[{i + 1}/{len(grid)}] {case.label} ...")
        results.append(compare_case(case, args.sim_seeds, base_port=args.base_port))
    if args.figure:
        write_atomic(Path(args.figure), figure_png(results))
    if args.json:
        write(json.dumps([_plain(r) for r in results], indent=2))
        return 0
    write("")
    write(f"Sentinel down-after {format_number(1e3 * args.down_after)} ms, {args.sentinels} "
          f"Sentinel{'s' if args.sentinels > 1 else ''}; simulated: mean of {args.sim_seeds} "
          "seeds; phases from the kill (ms): detected = +sdown, promoted = REPLICAOF NO ONE "
          "sent, confirmed = +promoted-slave")
    write(format_table(results))
    if args.figure:
        write(f"figure: {args.figure}")
    return 0
