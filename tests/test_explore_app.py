"""The explore page without a browser: its callbacks called directly, and the server over
HTTP on loopback. Needs Panel (``repsim[explore]``, in the dev dependencies)."""

from __future__ import annotations

import pytest

pytest.importorskip("panel", reason="the explore page needs Panel: pip install 'repsim[explore]'")

from sim.explore.app import CUSTOM, ExploreApp  # noqa: E402 - after the skip
from sim.explore.presets import PRESETS  # noqa: E402
from tests.explore_server import explore_server, get  # noqa: E402
from tests.redis_servers import free_port  # noqa: E402

WAIT_S = 60.0  # a rerun takes about a second; a loaded machine may take longer


@pytest.fixture
def app():
    page = ExploreApp(PRESETS["A replica read right after a write"].settings())
    assert page.runner.wait(WAIT_S)
    yield page
    page.close()


def test_the_first_run_fills_the_page(app):
    outcome = app.outcome
    assert outcome is not None and not outcome.error
    assert "Stale reads:" in app.stale_number.object and "theory" in app.stale_number.object
    assert app.stale_figure.object == outcome.images["stale"]
    assert app.trace_figure.object == outcome.images["trace"]
    assert "| reads |" in app.latency.object
    assert "Cache**: off" in app.cache_text.object


def test_moving_the_write_rate_reruns_and_changes_the_result(app):
    before = app.outcome
    app.widgets["write_rate"].value = 3000.0
    assert app.runner.wait(WAIT_S)
    after = app.outcome
    assert after is not before and after.settings.write_rate == 3000.0
    # Runs stop at their precision, so compare rates, not counts.
    assert after.summary["writes"] / after.run_seconds > \
        before.summary["writes"] / before.run_seconds
    assert after.summary["stale_read_rate"] > before.summary["stale_read_rate"]
    assert after.images["stale"] != before.images["stale"]
    assert app.stale_number.object != ""


def test_a_burst_of_changes_shows_the_last_one(app):
    for rate in (500.0, 1500.0, 2500.0, 3500.0, 4500.0):
        app.widgets["write_rate"].value = rate
    assert app.runner.wait(WAIT_S)
    assert app.outcome.settings.write_rate == 4500.0


def test_a_preset_sets_the_controls_and_its_story(app):
    preset = PRESETS["The crash that loses acknowledged writes"]
    app.preset.value = preset.name
    assert app.widgets["crash"].value is True
    assert app.widgets["crash_at_s"].value == preset.changes["crash_at_s"]
    assert app.widgets["delay_kind"].value == "constant"
    assert app.story.object == preset.story
    assert app.runner.wait(WAIT_S)
    assert app.settings() == preset.settings() == app.outcome.settings
    assert "acknowledged writes lost" in app.crash_text.object
    # Touching a control makes the settings the user's own again.
    app.widgets["wait_replicas"].value = 1
    assert app.preset.value == CUSTOM
    assert app.runner.wait(WAIT_S)
    assert app.outcome.summary["lost_writes"] == 0


def test_an_invalid_combination_shows_one_line_and_keeps_the_last_result(app):
    before = app.outcome
    app.widgets["replicas"].value = 0
    assert app.runner.wait(WAIT_S)
    assert app.alert.visible and "replication.read_policy" in app.alert.object
    assert app.outcome is before
    app.widgets["read_policy"].value = "master"
    assert app.runner.wait(WAIT_S)
    assert not app.alert.visible and app.outcome.summary["stale_read_rate"] == 0.0


def test_the_server_answers_on_loopback():
    with explore_server() as url:
        status, page = get(url)
    assert status == 200
    assert "<title>repsim explore</title>" in page
    # Everything the page loads comes from the server itself: it works without internet.
    assert "https://" not in page and "http://" not in page


def test_a_port_in_use_is_one_line(capsys):
    import socket

    from sim.cli import main

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert main(["explore", "--no-browser", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        f"repsim: error: --port = {port}: in use; choose another port, or 0 for a free one"]


def test_the_crash_mode_control_switches_what_a_crash_loses(app):
    app.apply_preset("The crash that loses acknowledged writes")
    mode = app.widgets["crash_mode"]
    assert mode.visible and mode.value == "network"
    assert app.runner.wait(WAIT_S)
    assert app.outcome.summary["lost_writes"] > 0
    assert "drops off the network" in app.crash_text.object
    mode.value = "process"
    assert app.runner.wait(WAIT_S)
    assert app.outcome.settings.crash_mode == "process"
    assert app.outcome.summary["lost_writes"] == 0
    assert "process is killed" in app.crash_text.object and "theory 0" in app.crash_text.object
    app.widgets["crash"].value = False
    assert not mode.visible


def test_captions_name_the_colours_the_figures_draw(app):
    from sim.explore import figures
    from sim.plot import trace as drawn
    from sim.plot.style import COLOUR_NAMES

    stale, trace = app.stale_caption.object, app.trace_caption.object
    assert COLOUR_NAMES[figures.THIS_RUN] in stale
    for colour in (drawn.WRITE, drawn.FRESH, drawn.STALE):
        assert COLOUR_NAMES[colour] in trace.lower()
    named = {name for name in COLOUR_NAMES.values() if name in stale + trace.lower()}
    used = {COLOUR_NAMES[c] for c in (figures.THIS_RUN, figures.EARLIER, drawn.WRITE,
                                      drawn.FRESH, drawn.STALE, drawn.CACHE)}
    assert named <= used
    import re

    assert not re.search(r"\bred\b|(?<!bluish )\bgreen\b", f"{stale} {trace}", re.I)
