"""The explore page's story of the store's TTL: its preset is a valid experiment whose run
accepts expired tokens, the skew control moves it, and the page says so. Needs Panel."""

from __future__ import annotations

import pytest

pytest.importorskip("panel", reason="the explore page needs Panel: pip install 'repsim[explore]'")

from sim.explore.app import ExploreApp  # noqa: E402 - after the skip
from sim.explore.presets import PRESETS  # noqa: E402
from sim.explore.settings import Settings  # noqa: E402

STORY = "An expired token accepted (clock skew)"
WAIT_S = 60.0


def test_the_preset_is_the_store_s_ttl_with_a_replica_clock_behind():
    config = PRESETS[STORY].settings().config()
    assert config.workload.key_ttl == 1.0 and config.clocks.offsets == (0.0, -0.1)
    assert Settings.from_config(config, failover_ms=500.0) == PRESETS[STORY].settings()
    assert Settings.default().config().workload.key_ttl == 0.0  # the page starts without


def test_the_page_shows_expired_tokens_and_the_clock_control_closes_the_window():
    app = ExploreApp(PRESETS[STORY].settings())
    try:
        assert app.runner.wait(WAIT_S)
        assert app.outcome.summary["expired_read_rate"] > 0
        assert "**Keys that expire**" in app.expiry_text.object
        assert app.widgets["replica_clock_ms"].visible
        app.widgets["replica_clock_ms"].value = 0.0
        assert app.runner.wait(WAIT_S)
        assert app.outcome.summary["expired_read_rate"] == 0.0
        app.widgets["key_ttl_ms"].value = 0
        assert app.runner.wait(WAIT_S)
        assert app.expiry_text.object == "" and not app.widgets["replica_clock_ms"].visible
    finally:
        app.close()
