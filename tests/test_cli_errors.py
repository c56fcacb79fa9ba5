"""Nothing but one line on stderr: every subcommand's argument errors are the one line a
configuration error is (no usage block), and no warning reaches the terminal."""

from __future__ import annotations

import warnings

import pytest

from sim.cli import app as cli

# (argv, a word the line must hold); every subcommand has at least one row.
BAD_ARGUMENTS = [
    ([], "COMMAND"),
    (["nosuch"], "nosuch"),
    (["run", "--nosuch"], "--nosuch"),
    (["run", "a.toml", "b.toml"], "b.toml"),
    (["sweep", "--reps", "0"], "--reps"),
    (["sweep", "--reps", "１"], "--reps"),
    (["sweep", "--workers", "1e400"], "--workers"),
    (["sweep", "--max-runs", "0x10"], "--max-runs"),
    (["sweep", "--executor", "gpu"], "gpu"),
    (["plot"], "DIR"),
    (["plot", "somewhere", "--kind", "pie"], "pie"),
    (["demo", "extra"], "extra"),
    (["trace"], "required"),
    (["trace", "--key", "-1", "--from", "0", "--to", "1", "--out", "t.png"], "--key"),
    (["trace", "--key", "1", "--from", "0", "--to", "1", "--out", "t.png",
      "--max-events", "nan"], "--max-events"),
    (["config"], "ACTION"),
    (["config", "show", "--nosuch"], "--nosuch"),
    (["calibrate"], "--redis"),
    (["calibrate", "--redis", "127.0.0.1:70000"], "--redis"),
    (["calibrate", "--redis", "127.0.0.1:٦٣٧٩"], "--redis"),
    (["calibrate", "--redis", "127.0.0.1:6379", "--clients", "1"], "--clients"),
    (["calibrate", "--redis", "127.0.0.1:6379", "--read-fraction", "1.5"], "--read-fraction"),
    (["validate", "--keys", "0"], "--keys"),
    (["validate", "--seed", "inf"], "--seed"),
    (["validate", "--read-rate", "-0"], "--read-rate"),
    (["validate", "--failover", "--sentinels", "2"], "--sentinels"),
    (["explore", "--port", "70000"], "--port"),
    (["explore", "--port", "-1"], "--port"),
    (["explore", "--port", "٨٠"], "--port"),
]


def test_the_table_covers_every_subcommand():
    parser = cli.build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert names == {argv[0] for argv, _ in BAD_ARGUMENTS if argv} - {"nosuch"}


@pytest.mark.parametrize("argv, word", BAD_ARGUMENTS)
def test_a_bad_argument_is_one_line_with_status_2(argv, word, capsys):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("repsim") and ": error: " in err
    assert "usage:" not in err and "Traceback" not in err
    assert word in err


def test_help_still_prints_usage_and_exits_0(capsys):
    assert cli.main(["run", "--help"]) == 0
    assert "usage:" in capsys.readouterr().out


def test_the_suite_turns_warnings_from_sim_into_errors():
    # pyproject's filterwarnings: a warning attributed to a sim module fails, simpy's not.
    with pytest.raises(RuntimeWarning):
        warnings.warn_explicit("overflow", RuntimeWarning, "streams.py", 1,
                               module="sim.model.streams")
    with warnings.catch_warnings(record=True) as seen:
        warnings.warn_explicit("note", RuntimeWarning, "core.py", 1, module="simpy.core")
    assert len(seen) == 1


def test_a_warning_raised_from_sim_during_a_command_is_one_line(monkeypatch, capsys):
    def handler(args):
        warnings.warn_explicit("overflow encountered in power", RuntimeWarning, "streams.py",
                               52, module="sim.model.streams")
        return 0

    def library(args):
        warnings.warn_explicit("a library's notice", FutureWarning, "x.py", 1, module="pandas")
        return 0

    parser = cli.build_parser()
    for fn, status in ((handler, 1), (library, 0)):
        monkeypatch.setattr(cli, "build_parser", lambda fn=fn: _with_handler(parser, fn))
        assert cli.main(["demo"]) == status
        err = capsys.readouterr().err
        assert err.count("\n") == (1 if status else 0), err


def _with_handler(parser, fn):
    parser.set_defaults(handler=fn)
    sub = parser._subparsers._group_actions[0].choices["demo"]
    sub.set_defaults(handler=fn)
    return parser


def test_a_sweep_worker_takes_the_sweeps_warning_filters():
    # A worker started by forkserver or spawn would otherwise have Python's defaults and
    # print what the command line turns into its one line.
    from sim.experiment.executors import _start_worker

    saved = warnings.filters[:]
    try:
        wanted = [("error", None, Warning, None, 0)]
        warnings.filters[:] = []
        _start_worker(wanted)
        assert warnings.filters == wanted
    finally:
        warnings.filters[:] = saved
