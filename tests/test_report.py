"""Rendering of summaries: the aligned table, number formats and strict JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim.analysis.report import (
    LABEL_WIDTH,
    describe_config,
    format_number,
    format_percent,
    format_summary,
    to_json,
)
from sim.config.schema import Config


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (0, "0"), (12345, "12,345"), (0.0, "0"), (1234.5678, "1,235"),
     (12.3456, "12.35"), (0.25, "0.2500"), (0.000123, "0.0001230"), (1e-12, "1.000e-12"),
     (math.inf, "inf")],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_format_percent():
    assert format_percent(0.05) == "5.00 %"
    assert format_percent(0.0123) == "1.23 %"
    assert format_percent(None) == "-"


def test_partial_summary_renders_with_dashes():
    text = format_summary({"reads": 10})
    assert "10" in text
    assert "Latency (ms)" in text
    assert text.count(" -") > 10


def test_table_rows_are_aligned():
    stats = {"mean": 0.5, "p50": 0.4, "p95": 0.9, "p99": 1.2, "p999": 2.0, "max": 30.0}
    text = format_summary({"reads": 5, "writes": 12345, "read_latency_ms": stats,
                           "write_latency_ms": stats, "cache_hit_rate": 0.5})
    lines = text.splitlines()
    table_start = next(i for i, line in enumerate(lines) if line.startswith("Latency"))
    rows = [line for line in lines[:table_start] if line.startswith("  ")]
    assert len(rows) > 10
    # every value starts in the same column, right after the padded label
    assert all(line[LABEL_WIDTH + 1] == " " and line[LABEL_WIDTH + 2] != " " for line in rows)
    latency = [line for line in lines if line.split()[0] in {"Latency", "read", "write"}]
    assert len({len(line) for line in latency}) == 1  # right-aligned columns, same width
    assert "50.0 %" in text


def test_describe_config():
    line = describe_config(Config.default())
    assert "\n" not in line
    assert "9000 reads/s" in line and "exp:1ms" in line and "seed 1" in line
    closed = describe_config(Config.default().with_overrides({"workload.mode": "closed",
                                                               "cache.enabled": False}))
    assert "closed workload" in closed and "no cache" in closed


def test_to_json_is_strict():
    data = {"a": math.nan, "b": [1, (2, math.inf)], "c": np.float64(0.5), "d": np.int64(3),
            "e": {"f": None}}
    text = to_json(data)
    assert json.loads(text) == {"a": None, "b": [1, [2, None]], "c": 0.5, "d": 3, "e": {"f": None}}
    assert "NaN" not in text and "Infinity" not in text
