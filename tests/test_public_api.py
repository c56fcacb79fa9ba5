"""The public API of ``import sim``: plain functions with their real signatures, no traps."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import sim


def fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet) and return what it printed."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_every_name_resolves_on_first_use_in_a_fresh_interpreter():
    names = [n for n in sim.__all__ if n != "__version__"]
    code = ("import sim\n"
            f"for n in {names!r}:\n"
            "    assert getattr(sim, n) is not None, n\n"
            "print(sim.load_sweep.__module__, sim.sweep.__module__, sim.trace.__module__)")
    assert fresh(code) == "sim.experiment.sweep sim.experiment.sweep sim.experiment.trace"


def test_sweep_and_trace_are_plain_functions_with_real_signatures():
    for fn in (sim.sweep, sim.trace, sim.load_sweep, sim.mean_ci, sim.simulate):
        assert inspect.isfunction(fn), fn
    assert "vary" in inspect.signature(sim.sweep).parameters
    assert "window" in inspect.signature(sim.trace).parameters
    assert list(inspect.signature(sim.load_sweep).parameters) == ["directory"]


def test_no_module_is_shadowed_by_a_function():
    # Importing every submodule must not change what the package's names are.
    before = {n: getattr(sim, n) for n in sim.__all__}
    for module in ("sim.analysis.tables", "sim.experiment.sweep", "sim.experiment.trace",
                   "sim.engine"):
        importlib.import_module(module)

    assert {n: getattr(sim, n) for n in sim.__all__} == before


def test_unknown_names_raise_attribute_error():
    try:
        sim.nonexistent  # noqa: B018
    except AttributeError as err:
        assert "nonexistent" in str(err)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_sim_stays_light():
    code = "import sys, sim; print(sorted({'simpy', 'pandas', 'matplotlib'} & set(sys.modules)))"
    assert fresh(code) == "[]"


def test_simulate_refuses_a_dict_in_one_line_that_names_the_fix():
    import pytest

    with pytest.raises(sim.ConfigError) as caught:
        sim.simulate({"run": {"duration": 1}})
    message = str(caught.value)
    assert "\n" not in message
    assert "dict" in message and "Config.from_dict" in message


def test_mean_ci_takes_one_key_as_a_string_like_a_list_of_it():
    import pandas as pd
    import pytest

    df = pd.DataFrame({"replication.delay": ["1ms", "1ms", "5ms", "5ms"], "rep": [0, 1, 0, 1],
                       "stale_read_rate": [0.1, 0.2, 0.3, 0.5], "error": [""] * 4})
    one = sim.mean_ci(df, "replication.delay", "stale_read_rate")
    listed = sim.mean_ci(df, ["replication.delay"], "stale_read_rate")
    pd.testing.assert_frame_equal(one, listed)
    assert list(one["replication.delay"]) == ["1ms", "5ms"]
    assert one["mean"].tolist() == pytest.approx([0.15, 0.4])
