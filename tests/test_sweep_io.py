"""Sweep directories: results.csv and meta.json, atomic appends, resume, kill -9, progress."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.config.schema import Config
from sim.errors import ConfigError
from sim.experiment.executors import Progress
from sim.experiment.store import ResultsFile, read_results
from sim.experiment.sweep import add_seconds_columns, load_sweep, sweep

SHORT = {"run.duration": 0.3, "run.warmup": 0.1, "workload.read_rate": 2000.0,
         "workload.write_rate": 200.0}
VARY = {"workload.write_rate": [20.0, 200.0], "replication.delay": ["1ms", "4ms"]}


@pytest.fixture(scope="module")
def base() -> Config:
    return Config.default().with_overrides(SHORT)


class CountingRun:
    """A run function that records the seeds and write rates it was called with."""

    def __init__(self, fail_rate: float | None = None) -> None:
        self.calls: list[tuple[float, int]] = []
        self.fail_rate = fail_rate

    def __call__(self, config):
        rate = config.get("workload.write_rate")
        self.calls.append((rate, config.get("run.seed")))
        if rate == self.fail_rate:
            raise RuntimeError("flaky")
        return {"reads": 10, "stale_read_rate": rate / 1000, "latency_ms": {"p99": 1.5},
                "wall_seconds": 0.0}


def without_wall(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["wall_seconds"]).reset_index(drop=True)


def test_sweep_writes_results_and_meta(base, tmp_path):
    out = tmp_path / "s"
    df = sweep(base, VARY, reps=2, out=out, executor="serial", progress=False)
    on_disk = add_seconds_columns(read_results(out))  # the twins are computed, not stored
    pd.testing.assert_frame_equal(df, on_disk)
    assert len(df) == 8 and list(df[["point", "rep"]].itertuples(index=False)) == \
        [(p, r) for p in range(4) for r in range(2)]
    assert load_sweep(out).attrs["vary"] == list(VARY)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["base_config"] == json.loads(json.dumps(base.to_dict()))
    assert meta["grid"]["vary"] == VARY and meta["grid"]["reps"] == 2
    assert meta["status"] == "complete" and meta["finished"] >= meta["started"]
    assert meta["runs"][0]["executor"] == "serial"
    assert meta["versions"]["numpy"] and meta["versions"]["python"]
    assert not list(out.glob(".*.tmp"))  # no temporary files left


def test_floats_survive_the_csv_exactly(tmp_path):
    rows = [{"point": 0, "rep": 0, "x": 0.1 + 0.2, "y": 1e-300, "s": "a,b\nc", "n": None}]
    results = ResultsFile(tmp_path / "r.csv")
    results.append(rows[0])
    back = read_results(tmp_path / "r.csv")
    assert back["x"].iloc[0] == 0.1 + 0.2 and back["y"].iloc[0] == 1e-300
    assert back["s"].iloc[0] == "a,b c" and pd.isna(back["n"].iloc[0])


def test_a_row_with_new_columns_widens_the_header(tmp_path):
    path = tmp_path / "r.csv"
    results = ResultsFile(path)
    results.append({"point": 0, "error": "boom"})
    results.append({"point": 1, "a": 1.5, "error": ""})
    results.append({"point": 2, "a": 2.5, "error": ""})
    lines = path.read_text().splitlines()
    assert lines[0] == "point,error,a"
    assert lines[1:] == ["0,boom,", "1,,1.5", "2,,2.5"]


def test_resume_skips_runs_already_written(base, tmp_path):
    out = tmp_path / "s"
    first = CountingRun()
    sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=first, progress=False)
    assert len(first.calls) == 8
    again = CountingRun()
    df = sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=again, progress=False)
    assert again.calls == [] and len(df) == 8
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["runs"]) == 2
    assert [r["computed"] for r in meta["runs"]] == [8, 0]


def test_resume_drops_a_partial_last_line_and_reruns_only_missing(base, tmp_path):
    out = tmp_path / "s"
    complete = sweep(base, VARY, reps=2, out=tmp_path / "ref", executor="serial",
                     run_fn=CountingRun(), progress=False)
    sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    # Simulate a kill: keep the header and 3 whole rows, then half of the 4th row.
    lines = (out / "results.csv").read_bytes().splitlines(keepends=True)
    (out / "results.csv").write_bytes(b"".join(lines[:4]) + lines[4][:7])
    resumed_run = CountingRun()
    resumed = sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=resumed_run,
                    progress=False)
    assert len(resumed_run.calls) == 5
    pd.testing.assert_frame_equal(without_wall(resumed), without_wall(complete))


def test_failed_runs_are_retried_on_resume(base, tmp_path):
    out = tmp_path / "s"
    df = sweep(base, VARY, out=out, executor="serial", run_fn=CountingRun(fail_rate=200.0),
               progress=False)
    assert (df["error"] != "").sum() == 2
    retry = CountingRun()
    df = sweep(base, VARY, out=out, executor="serial", run_fn=retry, progress=False)
    assert sorted(rate for rate, _ in retry.calls) == [200.0, 200.0]
    assert (df["error"] == "").all() and len(df) == 4


def test_a_different_sweep_in_the_same_directory_is_refused(base, tmp_path):
    out = tmp_path / "s"
    sweep(base, VARY, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    before = (out / "results.csv").read_bytes()
    other = base.with_overrides({"run.duration": 0.5})
    with pytest.raises(ConfigError) as err:
        sweep(other, VARY, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    message = str(err.value)
    assert "run.duration" in message and "0.3" in message and "0.5" in message
    assert "\n" not in message
    with pytest.raises(ConfigError, match="grid differs"):
        sweep(base, {"workload.write_rate": [20.0]}, out=out, executor="serial",
              run_fn=CountingRun(), progress=False)
    assert (out / "results.csv").read_bytes() == before


def test_a_sweep_grows_with_more_reps_and_values_reusing_every_row(base, tmp_path):
    out = tmp_path / "s"
    sweep(base, VARY, reps=2, out=out, executor="serial", progress=False)
    before = {(r["workload.write_rate"], r["replication.delay"], r["rep"]): r["stale_read_rate"]
              for _, r in read_results(out).iterrows()}
    # An extra value in front changes every point number; a third repetition for all.
    larger = {"workload.write_rate": [2.0, 20.0, 200.0], "replication.delay": ["1ms", "4ms"]}
    counted = CountingRun()
    sweep(base, larger, reps=3, out=out, executor="serial", run_fn=counted, progress=False)
    assert len(counted.calls) == 6 * 3 - len(before)  # only the runs not there yet
    grown = load_sweep(out)
    for (rate, delay, rep), value in before.items():
        row = grown[(grown["workload.write_rate"] == rate) & (grown["replication.delay"] == delay)
                    & (grown["rep"] == rep)]
        assert row["stale_read_rate"].tolist() == [value]  # kept as it was, not recomputed
    fresh = sweep(base, larger, reps=3, executor="serial", progress=False)
    real = grown[grown.apply(lambda r: (r["workload.write_rate"], r["replication.delay"],
                                        r["rep"]) in before, axis=1)]
    pd.testing.assert_frame_equal(
        without_wall(real)[["point", "rep", "seed", "stale_read_rate"]],
        without_wall(fresh[fresh.index.isin(real.index)])[["point", "rep", "seed",
                                                           "stale_read_rate"]])
    meta = json.loads((out / "meta.json").read_text())
    assert meta["grid"]["reps"] == 3 and meta["runs"][-1]["grew_from"]["reps"] == 2


@pytest.mark.parametrize(("vary", "reps"), [
    ({"workload.write_rate": [20.0, 200.0]}, 2),  # a varied key left out
    ({**VARY, "cache.enabled": [True, False]}, 2),  # a key added
    ({"workload.write_rate": [20.0], "replication.delay": ["1ms", "4ms"]}, 2),  # a value gone
    (VARY, 1),  # fewer repetitions
])
def test_a_sweep_that_would_drop_runs_is_refused(base, tmp_path, vary, reps):
    out = tmp_path / "s"
    sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    before = (out / "results.csv").read_bytes()
    with pytest.raises(ConfigError, match="grid differs.*more --reps or more values"):
        sweep(base, vary, reps=reps, out=out, executor="serial", run_fn=CountingRun(),
              progress=False)
    assert (out / "results.csv").read_bytes() == before


def test_a_zipped_sweep_grows_by_whole_pairs_only(base, tmp_path):
    out = tmp_path / "s"
    zipped = {"workload.write_rate": [20.0, 200.0], "replication.delay": ["1ms", "4ms"]}
    sweep(base, zipped, zip=["workload.write_rate", "replication.delay"], out=out,
          executor="serial", run_fn=CountingRun(), progress=False)
    counted = CountingRun()
    sweep(base, {"workload.write_rate": [20.0, 200.0, 400.0],
                 "replication.delay": ["1ms", "4ms", "8ms"]},
          zip=["workload.write_rate", "replication.delay"], out=out, executor="serial",
          run_fn=counted, progress=False)
    assert [rate for rate, _ in counted.calls] == [400.0]
    with pytest.raises(ConfigError, match="grid differs"):  # 20 now pairs with 4ms
        sweep(base, {"workload.write_rate": [200.0, 20.0, 400.0],
                     "replication.delay": ["1ms", "4ms", "8ms"]},
              zip=["workload.write_rate", "replication.delay"], out=out, executor="serial",
              run_fn=CountingRun(), progress=False)


def test_a_directory_with_foreign_results_is_refused(base, tmp_path):
    (tmp_path / "results.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="no meta.json"):
        sweep(base, VARY, out=tmp_path, executor="serial", run_fn=CountingRun(), progress=False)


KILLABLE = textwrap.dedent("""
    import sys, time
    from sim.config.schema import Config
    from sim.engine import simulate
    from sim.experiment.sweep import sweep

    def slow(config):
        time.sleep(0.05)  # leaves time to kill the sweep part-way
        return simulate(config)

    base = Config.default().with_overrides({SHORT!r})
    sweep(base, {{"workload.write_rate": [20.0, 60.0, 200.0],
                  "replication.delay": ["1ms", "4ms"]}}, reps=2,
          out=sys.argv[1], executor="serial", run_fn=slow, progress=False)
""").format(SHORT=SHORT)


def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(out)])
    try:
        deadline = time.monotonic() + 60
        results = out / "results.csv"
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = read_results(out)  # readable, whole rows only
    assert 2 <= len(partial) < 12
    assert json.loads((out / "meta.json").read_text())["status"] == "running"
    # Resume with the same command, and run the same sweep uninterrupted elsewhere.
    subprocess.run([sys.executable, str(script), str(out)], check=True)
    subprocess.run([sys.executable, str(script), str(tmp_path / "whole")], check=True)
    resumed, whole = read_results(out), read_results(tmp_path / "whole")
    assert len(whole) == 12
    pd.testing.assert_frame_equal(without_wall(resumed), without_wall(whole))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "complete" and len(meta["runs"]) == 2


# --- progress ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_lines_when_not_a_terminal():
    stream, clock = io.StringIO(), Clock()
    bar = Progress(100, stream=stream, clock=clock)
    for _ in range(100):
        clock.now += 0.5
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "sweep: 100 runs to do"
    assert lines[1] == "sweep: 10/100 runs (10%), 2 runs/s, ETA 45s"
    assert len(lines) == 11  # start, each tenth but the last, the end
    assert lines[-1] == "sweep: 100/100 runs done in 50s"


def test_plain_progress_also_every_30_seconds():
    stream, clock = io.StringIO(), Clock()
    bar = Progress(1000, initial=10, stream=stream, clock=clock)
    for _ in range(3):
        clock.now += 31
        bar.update()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "sweep: 990 runs to do (10 already done)"
    assert len(lines) == 4 and lines[-1].startswith("sweep: 13/1000 runs (1%)")


def test_progress_can_be_silent_and_uses_tqdm_on_a_terminal():
    stream = io.StringIO()
    bar = Progress(10, enabled=False, stream=stream)
    bar.update(10)
    bar.close()
    assert stream.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = Progress(4, stream=tty)
    bar.update(4)
    bar.close()
    assert "4/4" in tty.getvalue() and "run/s" in tty.getvalue()


def test_sweep_progress_goes_to_stderr(base, capsys):
    sweep(base, VARY, executor="serial", run_fn=CountingRun())
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "sweep: 4/4 runs done" in captured.err
    sweep(base, VARY, executor="serial", run_fn=CountingRun(), progress=False)
    assert capsys.readouterr().err == ""


def test_tmp_files_never_remain_after_atomic_writes(tmp_path):
    path = tmp_path / "r.csv"
    results = ResultsFile(path)
    for i in range(5):
        results.append({"point": i, "v": i * 0.5})
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["r.csv"]


def test_written_files_are_readable_by_others_under_the_usual_umask(tmp_path):
    old = os.umask(0o022)
    try:
        results = ResultsFile(tmp_path / "r.csv")
        results.append({"point": 0})
    finally:
        os.umask(old)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o644


ORPHANS = textwrap.dedent("""
    import os, sys, threading, time
    from pathlib import Path
    from sim.config.schema import Config
    from sim.experiment.sweep import sweep

    def stuck(config):
        Path(sys.argv[1], f"worker-{os.getpid()}").touch()
        time.sleep(120)  # killed long before this ends

    if __name__ == "__main__":
        if sys.argv[2] == "threaded":  # a second thread makes the pool use forkserver
            threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
        sweep(Config.default(), {"replication.delay": ["1ms", "2ms", "3ms", "4ms"]},
              executor="processes", workers=2, run_fn=stuck, progress=False)
""")


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaps counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("parent", ["single", "threaded"])
def test_workers_end_when_the_sweep_process_is_killed(tmp_path, parent):
    script = tmp_path / "orphans.py"
    script.write_text(ORPHANS)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), parent])
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(pids) < 2 and proc.poll() is None and time.monotonic() < deadline:
            pids = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
            time.sleep(0.01)
        assert len(pids) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # A worker of a killed sweep must not live on (idle, holding memory) for ever.
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids if _alive(p)]
    finally:
        proc.kill()
        proc.wait()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class InterruptedRun(CountingRun):
    """Fails like CountingRun, and is interrupted (Ctrl-C) at its third call."""

    def __call__(self, config):
        if len(self.calls) == 2:
            raise KeyboardInterrupt
        return super().__call__(config)


def test_resumed_columns_match_when_the_first_row_written_was_a_failure(base, tmp_path):
    vary = {"workload.write_rate": [20.0, 200.0, 300.0]}
    whole = sweep(base, vary, out=tmp_path / "whole", executor="serial",
                  run_fn=CountingRun(fail_rate=20.0), progress=False)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        sweep(base, vary, out=out, executor="serial", run_fn=InterruptedRun(fail_rate=20.0),
              progress=False)
    resumed = sweep(base, vary, out=out, executor="serial", run_fn=CountingRun(fail_rate=20.0),
                    progress=False)
    assert list(whole.columns[-2:]) == ["wall_seconds", "error"]
    assert list(resumed.columns) == list(whole.columns)
    pd.testing.assert_frame_equal(without_wall(resumed), without_wall(whole))


BLOCKING = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from sim.config.schema import Config
    from sim.experiment.sweep import sweep

    def blocked(config):
        Path(sys.argv[2]).touch()
        time.sleep(120)  # killed long before this ends

    sweep(Config.default().with_overrides({SHORT!r}), {VARY!r}, out=sys.argv[1],
          executor="serial", run_fn=blocked, progress=False)
""").format(SHORT=SHORT, VARY=VARY)


def test_a_directory_another_sweep_is_writing_to_is_refused_until_it_ends(base, tmp_path):
    script, out, started = tmp_path / "blocking.py", tmp_path / "s", tmp_path / "started"
    script.write_text(BLOCKING)
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(started)])
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists()
        with pytest.raises(ConfigError, match=f"process {proc.pid} is running a sweep there"):
            sweep(base, VARY, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    finally:
        proc.kill()
        proc.wait()
    # A killed sweep leaves no lock behind: the same sweep now resumes there.
    df = sweep(base, VARY, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    assert len(df) == 4


def test_temporary_files_a_kill_left_behind_are_removed_on_resume(base, tmp_path):
    out = tmp_path / "s"
    sweep(base, VARY, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    # What a kill -9 between writing a temporary file and moving it into place leaves.
    for name in (".results.csv.k2j4x9.tmp", ".meta.json.a8d0q1.tmp"):
        (out / name).write_text("half")
    sweep(base, VARY, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    assert not list(out.glob(".*.tmp"))


def test_an_out_directory_that_cannot_be_made_is_a_config_error(base, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="out = .*a directory this user can write to"):
        sweep(base, VARY, out=tmp_path / "file" / "s", executor="serial", run_fn=CountingRun(),
              progress=False)


def _pty(columns: int):
    """The writing end of a new pseudo-terminal ``columns`` wide, as a text stream."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    os.set_blocking(leader, False)
    return leader, open(follower, "w")


def _drain(fd: int) -> str:
    chunks = []
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [0, 80])
def test_progress_on_a_terminal_with_and_without_a_width(columns):
    leader, stream = _pty(columns)
    try:
        bar = Progress(4, stream=stream)
        bar.update(4)
        bar.close()
        stream.flush()
        shown = _drain(leader)
    finally:
        stream.close()
        os.close(leader)
    if columns:
        assert "4/4" in shown and "run/s" in shown  # the tqdm bar
    else:
        assert "sweep: 4/4 runs done in" in shown  # a terminal without a width: plain lines


def test_the_frame_is_the_same_with_or_without_a_directory(base, tmp_path):
    def no_cache(config):
        return {"reads": 10, "cache_hit_rate": None, "cache_hit_rate_ci95": None,
                "stale_read_rate": config.get("workload.write_rate") / 1000, "wall_seconds": 0.0}

    vary = {**VARY, "cache.enabled": [False]}
    in_memory = sweep(base, vary, executor="serial", run_fn=no_cache, progress=False)
    on_disk = sweep(base, vary, out=tmp_path / "s", executor="serial", run_fn=no_cache,
                    progress=False)
    pd.testing.assert_frame_equal(in_memory, on_disk)
    assert in_memory["cache_hit_rate"].dtype == float


def test_load_of_an_interrupted_sweep_gives_whole_rows_in_order(base, tmp_path):
    out = tmp_path / "s"
    complete = sweep(base, VARY, out=out, executor="serial", run_fn=CountingRun(),
                     progress=False)
    # As a kill leaves the file: rows in the order runs finished, the last one cut short.
    header, *rows = (out / "results.csv").read_bytes().splitlines(keepends=True)
    (out / "results.csv").write_bytes(header + rows[2] + rows[0] + rows[3][:9])
    partial = load_sweep(out)
    assert partial[["point", "rep"]].values.tolist() == [[0, 0], [2, 0]]
    pd.testing.assert_frame_equal(partial, complete.iloc[[0, 2]].reset_index(drop=True))
    assert partial.attrs["vary"] == list(VARY)


def _as_an_older_repsim_wrote_it(out: Path, *keys: str) -> None:
    """Remove ``section.key`` entries from the sweep's stored base configuration, as if a
    repsim that did not have them yet had written it."""
    meta = json.loads((out / "meta.json").read_text())
    for dotted in keys:
        section, key = dotted.split(".")
        del meta["base_config"][section][key]
    (out / "meta.json").write_text(json.dumps(meta))


def test_a_sweep_of_an_older_repsim_resumes_when_the_new_keys_sit_at_their_defaults(
        base, tmp_path):
    out = tmp_path / "s"
    sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    _as_an_older_repsim_wrote_it(out, "workload.key_ttl", "cache.stampede")
    again = CountingRun()
    df = sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=again, progress=False)
    assert again.calls == [] and len(df) == 8
    meta = json.loads((out / "meta.json").read_text())
    assert meta["runs"][-1]["keys_added_since"] == ["workload.key_ttl", "cache.stampede"]
    assert meta["base_config"]["workload"]["key_ttl"] == 0.0  # stored as it is now


def test_a_new_key_set_away_from_its_default_is_another_sweep(base, tmp_path):
    out = tmp_path / "s"
    sweep(base, VARY, reps=2, out=out, executor="serial", run_fn=CountingRun(), progress=False)
    _as_an_older_repsim_wrote_it(out, "server.hz")
    faster = base.with_overrides({"server.hz": 20})
    with pytest.raises(ConfigError, match="server.hz: '<unset>' before, 20 now"):
        sweep(faster, VARY, reps=2, out=out, executor="serial", run_fn=CountingRun(),
              progress=False)
