"""The explore page (Panel): controls, presets, and what each rerun shows.

One :class:`ExploreApp` per browser session. A change of any control submits the controls'
:class:`~sim.explore.settings.Settings` to a :class:`~sim.explore.runner.LatestRunner`, which
computes :func:`~sim.explore.compute.evaluate` in a background thread, the newest request
only; the result comes back to the page through the session document's next-tick callback
(the one document method safe to call from another thread), so the page never waits on a
simulation. Figures arrive as PNG bytes drawn in the worker.

Extension point for the quorum mode (``replication.mode = "quorum"``, not in repsim yet):
add R, W and N to ``Settings`` and three sliders to ``_controls``' replication group.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import panel as pn

from sim.config.faults import CRASH_MODES
from sim.config.schema import ON_WRITE, READ_POLICIES, REPLICA_EXPIRY, STAMPEDE
from sim.explore import figures
from sim.explore.compute import CancelToken, Outcome, evaluate
from sim.explore.presets import PRESETS
from sim.explore.runner import LatestRunner
from sim.explore.settings import DELAY_KINDS, STAMPEDE_OFF, Settings
from sim.plot import trace as trace_style
from sim.plot.style import colour_name

__all__ = ["ExploreApp", "create"]

MAX_WRITE_RATE = 5000.0
HISTORY_POINTS = 40  # earlier runs kept per setting, for the stale-read figure
SIDEBAR_WIDTH = 330
CUSTOM = "(your own settings)"

KEY_OPTIONS = [1, 10, 100, 1000, 10000]
TTL_OPTIONS_MS = [10, 50, 100, 250, 500, 1000, 2000]
BATCH_OPTIONS = [1, 2, 4, 8, 16, 32, 64]
KEY_TTL_OPTIONS_MS = [0, 100, 250, 500, 1000, 2000]
TYPES = {"float": float, "int": int, "bool": bool, "str": str}  # Settings' field annotations


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def _precision(summary: dict) -> str:
    """How precise the run's readouts are, as the run's stop says."""
    p = summary.get("precision")
    if not p:
        return "fixed length"
    target = f"±{100 * p['target_rel_ci']:g} %"
    if p["stopped_by"] == "precision":
        return f"run until the readouts were within {target}"
    worst = max((v for v in (p["stale_read_rate_rel_ci"], p["read_latency_mean_rel_ci"])
                 if v is not None), default=None)
    reached = f"±{100 * worst:.2g} %" if worst is not None else "no interval yet"
    return f"stopped at its length limit before {target}: {reached}"


def trace_caption(note: str, cache: bool) -> str:
    """The space-time trace's caption, naming the colours :mod:`sim.plot.trace` draws."""
    t = trace_style
    text = (f"**What happened to one key** ({note}). One line per node, time running left "
            f"to right. {colour_name(t.WRITE).capitalize()}: a client's write goes to the "
            "master and its reply comes back (dotted); grey: the master streams the write to "
            "each replica (a dot where the replica applies it); "
            f"{colour_name(t.FRESH)}: reads that returned the newest version; dashed "
            f"{colour_name(t.STALE)}: reads that returned an older one. Light "
            f"{colour_name(t.STALE)} shading: a replica or the cache holds an outdated value.")
    if cache:
        text += (f" {colour_name(t.CACHE).capitalize()}: the cache's entry (a triangle where "
                 "it is filled, a cross where it expires or is invalidated).")
    return text


def _with_option(options: list, value: Any) -> list:
    """``options`` with ``value`` added in order (a preset may use a value between stops)."""
    return options if value in options else sorted([*options, value])


class ExploreApp:
    """One session's page: ``layout`` is what Panel serves; ``outcome`` the latest result."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.outcome: Outcome | None = None
        self.error = ""
        self._doc = pn.state.curdoc  # None outside a server session (tests)
        self._muted = False
        self._history: dict[Settings, list[tuple[float, float]]] = {}
        self.runner = LatestRunner(self._work, self._deliver, self._fail)
        self.widgets = self._controls()
        self.preset = pn.widgets.Select(label="Start from a story", value=CUSTOM,
                                        options=[CUSTOM, *PRESETS], css_classes=["explore-preset"])
        self.story = pn.pane.Markdown("", css_classes=["explore-story"], sizing_mode="stretch_width")
        self._outputs()
        self.set_settings(settings or Settings.default())
        for widget in self.widgets.values():
            widget.param.watch(self._on_control, "value")
        self.preset.param.watch(self._on_preset, "value")
        self.layout = self._layout()
        self.request()

    # -- controls ----------------------------------------------------------------------------

    def _controls(self) -> dict[str, Any]:
        w = pn.widgets

        def css(name: str) -> list[str]:
            return [f"explore-control-{name.replace('_', '-')}"]

        return {
            "mode": w.RadioButtonGroup(label="workload", options=["open", "closed"],
                                       css_classes=css("mode")),
            "write_rate": w.FloatSlider(label="write rate (writes/s)", start=0, step=50,
                                        end=MAX_WRITE_RATE, css_classes=css("write_rate")),
            "read_rate": w.FloatSlider(label="read rate (reads/s)", start=0, end=20000,
                                       step=250, css_classes=css("read_rate")),
            "read_fraction": w.FloatSlider(label="share of reads", start=0, end=1, step=0.05,
                                           css_classes=css("read_fraction")),
            "clients": w.IntSlider(label="clients", start=1, end=32, css_classes=css("clients")),
            "keys": w.DiscreteSlider(label="keys", options=KEY_OPTIONS, css_classes=css("keys")),
            "zipf_s": w.FloatSlider(label="Zipf skew (0 = all keys alike)", start=0, end=1.5,
                                    step=0.05, css_classes=css("zipf_s")),
            "delay_kind": w.Select(label="replication delay distribution",
                                   options=list(DELAY_KINDS), css_classes=css("delay_kind")),
            "delay_ms": w.FloatSlider(label="mean replication delay (ms)", start=0, end=50,
                                      step=0.5, css_classes=css("delay_ms")),
            "replicas": w.IntSlider(label="replicas", start=0, end=4, css_classes=css("replicas")),
            "read_policy": w.Select(label="reads go to", options=list(READ_POLICIES),
                                    css_classes=css("read_policy")),
            "wait_replicas": w.IntSlider(label="WAIT for replicas", start=0, end=4,
                                         css_classes=css("wait_replicas")),
            "cache": w.Checkbox(label="cache in front of the store", css_classes=css("cache")),
            "ttl_ms": w.DiscreteSlider(label="cache TTL (ms)", options=TTL_OPTIONS_MS,
                                       css_classes=css("ttl_ms")),
            "on_write": w.RadioButtonGroup(label="on write", options=list(ON_WRITE),
                                           css_classes=css("on_write")),
            "stampede": w.Select(label="misses recompute at an origin, cured by",
                                 options=[STAMPEDE_OFF, *STAMPEDE], css_classes=css("stampede")),
            "recompute_ms": w.FloatSlider(label="recompute time (ms)", start=1, end=500, step=1,
                                          css_classes=css("recompute_ms")),
            "origin_servers": w.IntSlider(label="origin workers", start=1, end=64,
                                          css_classes=css("origin_servers")),
            "client_cache": w.Checkbox(label="client-side cache (CLIENT TRACKING)",
                                       css_classes=css("client_cache")),
            "cc_redirect": w.Checkbox(label="invalidations on a second connection",
                                      css_classes=css("cc_redirect")),
            "cc_placeholder": w.Checkbox(label="in-progress placeholder",
                                         css_classes=css("cc_placeholder")),
            "batch_size": w.DiscreteSlider(label="pipeline batch size", options=BATCH_OPTIONS,
                                           css_classes=css("batch_size")),
            "linger_ms": w.FloatSlider(label="pipeline linger (ms)", start=0, end=2, step=0.1,
                                       css_classes=css("linger_ms")),
            "crash": w.Checkbox(label="crash the master", css_classes=css("crash")),
            "crash_mode": w.RadioButtonGroup(label="crash mode", options=list(CRASH_MODES),
                                             css_classes=css("crash_mode")),
            "crash_at_s": w.FloatSlider(label="crash at (s)", start=0.5, end=2.0, step=0.1,
                                        css_classes=css("crash_at_s")),
            "failover_ms": w.FloatSlider(label="failover after (ms)", start=100, end=1000,
                                         step=50, css_classes=css("failover_ms")),
            "seed": w.IntInput(label="seed", start=0, css_classes=css("seed")),
            "key_ttl_ms": w.DiscreteSlider(label="key TTL in the store (ms, 0 = none)",
                                           options=KEY_TTL_OPTIONS_MS,
                                           css_classes=css("key_ttl_ms")),
            "replica_clock_ms": w.FloatSlider(label="replica clocks vs the master's (ms)",
                                              start=-200, end=200, step=10,
                                              css_classes=css("replica_clock_ms")),
            "replica_expiry": w.RadioButtonGroup(label="replica expiry",
                                                 options=list(REPLICA_EXPIRY),
                                                 css_classes=css("replica_expiry")),
        }

    def settings(self) -> Settings:
        """The controls' current values."""
        values = {name: widget.value for name, widget in self.widgets.items()}
        return Settings(**{name: TYPES[field.type](values[name]) for name, field in
                           Settings.__dataclass_fields__.items()})

    def set_settings(self, settings: Settings) -> None:
        """Show ``settings`` in the controls without a rerun per control."""
        self._muted = True
        try:
            for name, value in settings.to_dict().items():
                widget = self.widgets[name]
                if isinstance(widget, pn.widgets.DiscreteSlider):
                    if isinstance(value, float) and value.is_integer():
                        value = int(value)  # shown as 1000, not 1e+03
                    widget.options = _with_option(list(widget.options), value)
                widget.value = value
        finally:
            self._muted = False
        self._show_relevant()

    def _show_relevant(self) -> None:
        """Hide the controls the current mode or switches make meaningless."""
        v = {name: widget.value for name, widget in self.widgets.items()}
        visible = {
            "write_rate": v["mode"] == "open", "read_rate": v["mode"] == "open",
            "read_fraction": v["mode"] == "closed", "linger_ms": v["mode"] == "open",
            "ttl_ms": v["cache"], "on_write": v["cache"], "stampede": v["cache"],
            "recompute_ms": v["cache"] and v["stampede"] != STAMPEDE_OFF,
            "origin_servers": v["cache"] and v["stampede"] != STAMPEDE_OFF,
            "crash_mode": v["crash"], "crash_at_s": v["crash"], "failover_ms": v["crash"],
            "replica_clock_ms": v["key_ttl_ms"] > 0, "replica_expiry": v["key_ttl_ms"] > 0,
            "cc_redirect": v["client_cache"], "cc_placeholder": v["client_cache"],
        }
        for name, show in visible.items():
            self.widgets[name].visible = show

    def _on_control(self, event) -> None:
        if self._muted:
            return
        self._show_relevant()
        if self.preset.value != CUSTOM:
            self._muted = True  # the story no longer matches: say so without a rerun
            self.preset.value = CUSTOM
            self._muted = False
        self.request()

    def _on_preset(self, event) -> None:
        if self._muted:
            return
        self.apply_preset(event.new)

    def apply_preset(self, name: str) -> None:
        """Set the controls to a story's settings and rerun once."""
        preset = PRESETS.get(name)
        if preset is None:
            self.story.object = ""
            return
        if self.preset.value != name:
            self._muted = True
            self.preset.value = name
            self._muted = False
        self.story.object = preset.story
        self.set_settings(preset.settings())
        self.request()

    # -- running -----------------------------------------------------------------------------

    def request(self) -> int:
        """Rerun with the controls' values in the background; returns the request number."""
        settings = self.settings()
        key = settings.replace(write_rate=0.0)
        earlier = list(self._history.get(key, []))
        self.status.object = "⏳ simulating…"
        return self.runner.submit((settings, earlier))

    def _work(self, request: tuple[Settings, list], token: CancelToken) -> Outcome:
        settings, earlier = request
        return evaluate(settings, token, earlier=earlier, max_write_rate=MAX_WRITE_RATE)

    def _on_page(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the page's event loop (directly when there is no page)."""
        doc = self._doc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(partial(fn, *args))
        else:
            fn(*args)

    def _deliver(self, outcome: Outcome) -> None:
        self._on_page(self._show, outcome)

    def _fail(self, error: BaseException) -> None:
        self._on_page(self._show_error, f"{type(error).__name__}: {error}")

    def close(self) -> None:
        self.runner.close()

    # -- outputs -----------------------------------------------------------------------------

    def _outputs(self) -> None:
        md = partial(pn.pane.Markdown, sizing_mode="stretch_width")
        self.status = md("", css_classes=["explore-status"])
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False,
                                   css_classes=["explore-error"])
        self.stale_number = md("", css_classes=["explore-stale-number"])
        self.stale_caption = md("", css_classes=["explore-stale-caption"])
        self.stale_figure = pn.pane.PNG(None, width=504, css_classes=["explore-stale-figure"])
        self.tvis_caption = md("", css_classes=["explore-tvis-caption"])
        self.tvis_figure = pn.pane.PNG(None, width=504, css_classes=["explore-tvis-figure"])
        self.latency = md("", css_classes=["explore-latency"])
        self.cache_text = md("", css_classes=["explore-cache"])
        self.crash_text = md("", css_classes=["explore-crash"])
        self.expiry_text = md("", css_classes=["explore-expiry"])
        self.trace_caption = md("", css_classes=["explore-trace-caption"])
        self.trace_figure = pn.pane.PNG(None, width=990, css_classes=["explore-trace-figure"])

    def _show_error(self, message: str) -> None:
        self.alert.object = f"**These settings are not a valid experiment.** {message}"
        self.alert.visible = True
        self.status.object = "Nothing ran: fix the setting named below."
        self.error = message

    def _show(self, outcome: Outcome) -> None:
        if outcome.error:
            self._show_error(outcome.error)
            return
        self.error = ""
        self.alert.visible = False
        self.outcome = outcome
        s, summary, theory = outcome.settings, outcome.summary, outcome.theory
        if s.mode == "open" and summary["stale_read_rate"] is not None:
            points = self._history.setdefault(s.replace(write_rate=0.0), [])
            points.append((s.write_rate, summary["stale_read_rate"]))
            del points[:-HISTORY_POINTS]
        superseded = self.runner.superseded
        self.status.object = (
            f"Last run: {outcome.run_seconds:.3g} s of simulated time ({_precision(summary)}), "
            f"{summary['reads']:,} reads and {summary['writes']:,} writes measured, "
            f"computed and drawn in {outcome.wall_seconds:.2f} s"
            + (f" ({superseded} older runs cancelled or skipped)" if superseded else "") + ".")
        self._show_stale(summary, theory)
        self._show_tvis(theory)
        self._show_latency(summary, theory)
        self._show_cache(summary, theory)
        self._show_crash(summary, theory, s)
        self._show_expiry(summary)
        self.trace_caption.object = trace_caption(outcome.trace_note, s.cache)
        for pane, name in ((self.stale_figure, "stale"), (self.tvis_figure, "tvis"),
                           (self.trace_figure, "trace")):
            pane.object = outcome.images.get(name)

    def _show_stale(self, summary: dict, theory: dict) -> None:
        rate = summary["stale_read_rate"]
        if rate is None:
            self.stale_number.object = "### Stale reads: no reads measured"
            self.stale_caption.object = "Set a read rate above zero to measure staleness."
            return
        lo, hi = summary["stale_read_rate_ci95"]
        interval = f" (95 % interval {_pct(lo)} to {_pct(hi)})" if lo is not None else ""
        text = f"### Stale reads: {_pct(rate)}{interval}"
        formula = theory["stale"]
        if "stale_value" in theory:
            text += f" · theory {_pct(theory['stale_value'].value)}"
        self.stale_number.object = text
        per_hundred = 100 * rate
        caption = (f"About {per_hundred:.3g} reads in 100 returned an older version than the "
                   "master held when the read was issued. ")
        if formula.applies:
            caption += (f"The grey curve is the closed form ({formula.formula}), the "
                        f"{colour_name(figures.THIS_RUN)} point this run (earlier runs "
                        f"{colour_name(figures.EARLIER)}, faded); move the write rate and the "
                        "point follows the curve. ")
        else:
            caption += f"No closed form here: {formula.why_not}. "
        self.stale_caption.object = caption

    def _show_tvis(self, theory: dict) -> None:
        caption = ("**t-visibility**: of the reads issued t ms after the newest version of "
                   "their key was committed, the share that already saw it. ")
        form = theory["tvis"]
        caption += (f"Dashed: the closed form, {form.formula}." if form.applies
                    else f"No closed form here: {form.why_not}.")
        self.tvis_caption.object = caption

    def _show_latency(self, summary: dict, theory: dict) -> None:
        rows = ["| | mean | p50 | p95 | p99 | p99.9 | max |", "|---|---|---|---|---|---|---|"]
        for label, key in (("reads", "read_latency_ms"), ("writes", "write_latency_ms")):
            q = summary[key]
            rows.append(f"| {label} | " + " | ".join(
                _ms(q[p]) for p in ("mean", "p50", "p95", "p99", "p999", "max")) + " |")
        text = ("**Latency (ms)**, from the client issuing a command to its reply: network "
                "both ways, queueing, and with pipelining the wait for the batch.\n\n"
                + "\n".join(rows))
        wl = theory["write_latency"]
        if wl.applies:
            text += (f"\n\nWith WAIT 1 a write also waits for a replica: mean "
                     f"{_ms(wl.value * 1e3)} ms in theory ({wl.formula}).")
        tp = theory["throughput"]
        text += f"\n\n**Throughput**: {summary['throughput_ops_s']:,.0f} commands/s"
        if tp.applies:
            text += (f"; {tp.formula}: {tp.value:,.0f}/s. Raise the batch size: one network "
                     "trip and one message overhead carry more commands.")
        self.latency.object = text

    def _show_cache(self, summary: dict, theory: dict) -> None:
        hit = theory["hit"]
        if summary["cache_hit_rate"] is None:
            self.cache_text.object = ("**Cache**: off. Every read goes to the store by the "
                                      "read policy." + _local_cache_text(summary))
            return
        text = f"**Cache hit rate**: {_pct(summary['cache_hit_rate'])}"
        if hit.applies:
            text += (f" · theory {_pct(hit.value)} ({hit.formula}: each entry serves the "
                     "reads of one TTL, then the next read misses)")
        else:
            text += f" (no closed form: {hit.why_not})"
        text += (". A hit answers fast and returns whatever was cached, however many writes "
                 "the key has had since.")
        if "origin_recomputes" in summary:
            per = summary["recomputes_per_expiry"]
            text += (f" **Origin**: {summary['origin_recomputes']:,} recomputes, "
                     f"{'-' if per is None else f'{per:.3g}'} per expiry, peak load "
                     f"{summary['origin_load']['peak']:,.0f}/s, mean wait in its queue "
                     f"{_ms(summary['origin_queue_ms']['mean'])} ms.")
        self.cache_text.object = text + _local_cache_text(summary)

    def _show_crash(self, summary: dict, theory: dict, settings: Settings) -> None:
        if not settings.crash:
            self.crash_text.object = ("**Crash**: none scheduled. Tick *crash the master* to "
                                      "see what a failover loses.")
            return
        lost = theory["lost"]
        outage = summary["failover_duration_ms"]["mean"]
        how = ("the host drops off the network" if settings.crash_mode == "network"
               else "the redis-server process is killed, its host stays up")
        text = (f"**Crash at {settings.crash_at_s:g} s** ({how}): {summary['lost_writes']} "
                "acknowledged writes lost")
        if lost.applies:
            text += f" (theory {lost.value:.3g}: {lost.formula})"
        text += (f"; {summary['lost_unacknowledged_writes']} more were committed but never "
                 f"acknowledged. Outage until the failover: {_ms(outage)} ms, during which "
                 f"{summary['unavailable_writes']:,} writes and "
                 f"{summary['unavailable_reads']:,} reads failed (their clients got an error "
                 "and could retry; the lost ones were told OK).")
        self.crash_text.object = text

    def _show_expiry(self, summary: dict) -> None:
        rate = summary["expired_read_rate"]
        if rate is None:  # the store's keys do not expire
            self.expiry_text.object = ""
            return
        age = summary["expired_read_age_ms"]
        self.expiry_text.object = (
            f"**Keys that expire**: {_pct(rate, 2)} of reads returned a key whose TTL had "
            f"passed (up to {_ms(age['p99'])} ms past it, p99); {_pct(summary['hidden_live_rate'], 2)} "
            "answered \"missing\" for a key still live; at most "
            f"{summary['expired_keys_held']:,} expired keys waited at the master for its "
            "active expire cycle.")

    # -- layout ------------------------------------------------------------------------------

    def _layout(self):
        w = self.widgets

        def group(title: str, *names: str, collapsed: bool = False):
            return pn.Card(*(w[n] for n in names), title=title, collapsed=collapsed,
                           sizing_mode="stretch_width")

        sidebar = pn.Column(
            self.preset, self.story,
            group("Workload", "mode", "write_rate", "read_rate", "read_fraction", "clients",
                  "keys", "zipf_s"),
            group("Replication", "delay_kind", "delay_ms", "replicas", "read_policy",
                  "wait_replicas"),
            group("Cache", "cache", "ttl_ms", "on_write", "stampede", "recompute_ms",
                  "origin_servers", "client_cache", "cc_redirect", "cc_placeholder"),
            group("Pipelining", "batch_size", "linger_ms"),
            group("Failure", "crash", "crash_mode", "crash_at_s", "failover_ms"),
            group("Keys that expire", "key_ttl_ms", "replica_clock_ms", "replica_expiry",
                  collapsed=True),
            group("Randomness", "seed", collapsed=True),
            width=SIDEBAR_WIDTH)
        main = pn.Column(
            pn.pane.Markdown("## repsim explore: asynchronous replication, caching and "
                             "failover, rerun at every change"),
            self.status, self.alert,
            pn.Row(pn.Column(self.stale_number, self.stale_figure, self.stale_caption,
                             width=520),
                   pn.Column(self.tvis_figure, self.tvis_caption, width=520)),
            pn.Row(pn.Column(self.latency, width=520),
                   pn.Column(self.cache_text, self.crash_text, self.expiry_text, width=520)),
            self.trace_figure, self.trace_caption,
            sizing_mode="stretch_width")
        return pn.Row(sidebar, main, sizing_mode="stretch_width")


def create() -> Any:
    """A new page for one browser session (Panel calls this for each visitor)."""
    app = ExploreApp()
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda context: app.close())
    return app.layout


def _local_cache_text(summary: dict) -> str:
    """The client-side cache's line of the cache panel (empty when it is off)."""
    if "client_cache_hit_rate" not in summary:
        return ""
    return (f"\n\n**Client-side cache**: {_pct(summary['client_cache_hit_rate'])} of reads "
            f"answered locally, {_pct(summary['client_cache_stale_read_rate'])} of those "
            f"stale; {summary['invalidations']:,} invalidation messages; "
            f"{summary['stale_forever']} entries stale for good at the end.")
