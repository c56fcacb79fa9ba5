"""``make bench``'s exit status follows the verdicts its benchmarks print."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_core  # noqa: E402
import run_all  # noqa: E402
from verdicts import exit_status  # noqa: E402


def test_any_fail_verdict_makes_the_exit_status_nonzero():
    assert exit_status(["PASS  a", "PASS  b"]) == 0
    assert exit_status(["PASS  a", "FAIL  b: 1.2x (target 2x)"]) == 1
    assert exit_status(["FAIL: dask speed-up 0.9x"]) == 1


@pytest.mark.parametrize(("ops_per_s", "growth_mb", "status"),
                         [(1e6, 0.0, 0), (1e3, 0.0, 1), (1e6, 500.0, 1)])
def test_core_report_fails_when_a_target_is_missed(ops_per_s, growth_mb, status):
    run = {"duration_s": 1.0, "wall_s": 1.0, "ops": 10, "ops_per_s": ops_per_s,
           "events_per_op": 2.0}
    small = {"rss_bytes": 50 * 2**20, "ops": 10}
    large = {"rss_bytes": int((50 + growth_mb) * 2**20), "ops": 100}
    text = bench_core.report(1.5e6, run, small, large, 5.0)
    assert exit_status(text.splitlines()) == status


def test_run_all_reports_a_failed_benchmark_and_exits_1(tmp_path, capsys):
    (tmp_path / "bench_good.py").write_text("print('PASS  fine')\n")
    (tmp_path / "bench_slow.py").write_text(
        f"import sys\nsys.path.insert(0, {str(BENCH)!r})\nfrom verdicts import exit_status\n"
        "lines = ['PASS  one', 'FAIL  two: 1.1x (target 2x)']\nprint(*lines, sep='\\n')\n"
        "sys.exit(exit_status(lines))\n")
    assert run_all.main([], directory=tmp_path) == 1
    captured = capsys.readouterr()
    assert "all 2 benchmarks passed" not in captured.out
    assert "1 of 2 failed: bench_slow.py" in captured.err
