"""Fixtures shared by the test modules (helpers they call are in ``tests/helpers.py``)."""

from __future__ import annotations

import pytest

from tests.helpers import Log


@pytest.fixture
def trace_log() -> Log:
    """A fresh collector of one run's trace events: ``simulate(cfg, trace=trace_log)``."""
    return Log()
