"""Every number the configuration accepts follows one set of rules (sim.config.numeric):
a property test over every numeric key, every duration, every distribution parameter, every
size and every sample file, drawing the strings a hostile user types."""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config.distributions import Distribution
from sim.config.numeric import read_number, to_float
from sim.config.schema import _SECTIONS, Config, parse_value
from sim.errors import ConfigError

# Every key whose value is (or holds) a number: those that take the number 1 as it is.
NUMERIC_KEYS = []
for _name, _cls in _SECTIONS.items():
    for _f in dataclasses.fields(_cls):
        try:
            parse_value(f"{_name}.{_f.name}", 1)
        except ConfigError:
            continue
        NUMERIC_KEYS.append(f"{_name}.{_f.name}")
DELAY_KEYS = [k for k in NUMERIC_KEYS if isinstance(parse_value(k, 1), Distribution)]

# Each distribution parameter, and a fault table's numbers, with X where the number goes.
PARAMETERS = ["exp:X", "exp:Xms", "uniform:Xms,1s", "uniform:0s,Xms", "lognormal:median=Xms,sigma=1",
              "lognormal:median=1ms,sigma=X", "pareto:scale=Xms,alpha=2",
              "pareto:scale=1ms,alpha=X", "mix:X*exp:1ms+0.5*exp:2ms", "mix:1*exp:Xms", "Xus"]
TABLES = {"faults.replica_disconnects": ['{replica = 0, start = "X", duration = 1}',
                                         '{replica = 0, start = 1, duration = "Xs"}',
                                         '{replica = "X", start = 1, duration = 1}'],
          "faults.partitions": ['{start = "Xms", duration = 1, nodes = ["master"]}',
                                '{start = 1, duration = 1, clients = ["X"]}']}

FOREIGN_DIGITS = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())
BAD_NUMBERS = st.one_of(
    st.sampled_from(["nan", "NaN", "-nan", "inf", "+inf", "-inf", "Infinity", "1e309", "-1e309",
                     "1E+999", "1e99999999999999999999", "0x10", "0o17", "0b101", "1_000",
                     "1__0", "－1", "＋1", "１", "٣.5", "1.5e٣", "", " ", "1e", ".", "--1"]),
    st.integers(309, 10**6).map(lambda e: f"1e{e}"),
    st.integers(0, 10**9).map(hex),
    st.integers(1000, 10**9).map(lambda n: f"{n:_}"),
    st.text(FOREIGN_DIGITS, min_size=1, max_size=4),
    st.tuples(st.sampled_from(["－", "＋"]), st.integers(0, 99)).map(lambda t: f"{t[0]}{t[1]}"),
)
NEGATIVE_ZEROS = st.sampled_from(["-0", "-0.0", "-0e5", "-.0", "-0.", "-0E-3"])


def _one_line_naming(error: ConfigError, key: str) -> None:
    text = str(error)
    assert "\n" not in text and text.startswith(key), text


def _override(key: str, text: str) -> Config:
    return Config.default().with_overrides([f"{key}={text}"])


def _floats(value) -> list[float]:
    """Every float inside a parsed value (distribution fields, tuples, plain numbers)."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, tuple | list):
        return [x for item in value for x in _floats(item)]
    if dataclasses.is_dataclass(value):
        return [x for f in dataclasses.fields(value) for x in _floats(getattr(value, f.name))]
    return []


def test_the_classification_finds_every_kind_of_number():
    assert {"run.seed", "workload.read_rate", "workload.zipf_s", "run.duration",
            "replication.backlog_size", "faults.master_crash_at"} <= set(NUMERIC_KEYS)
    assert "network.client_latency" in DELAY_KEYS and "run.duration" not in DELAY_KEYS


@pytest.mark.parametrize("key", NUMERIC_KEYS)
@settings(max_examples=40, deadline=None)
@given(text=BAD_NUMBERS)
def test_every_numeric_key_refuses_what_is_not_a_decimal_number(key, text):
    for value in (text, f"{text}ms"):
        with pytest.raises(ConfigError) as info:
            _override(key, value)
        _one_line_naming(info.value, key)
    # The same strings in a file: quoted (a string) or, where TOML reads them, a number.
    section, _, name = key.partition(".")
    with pytest.raises(ConfigError) as info:
        Config.from_dict({section: {name: text}})
    _one_line_naming(info.value, key)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400, 1e308 * 10])
@pytest.mark.parametrize("key", NUMERIC_KEYS)
def test_every_numeric_key_refuses_non_finite_numbers_from_a_file(key, value):
    section, _, name = key.partition(".")
    with pytest.raises(ConfigError) as info:
        Config.from_dict({section: {name: value}})
    _one_line_naming(info.value, key)


@pytest.mark.parametrize("key", DELAY_KEYS)
@settings(max_examples=25, deadline=None)
@given(text=BAD_NUMBERS, form=st.sampled_from(PARAMETERS))
def test_every_distribution_parameter_refuses_what_is_not_a_decimal_number(key, text, form):
    with pytest.raises(ConfigError) as info:
        _override(key, form.replace("X", text))
    _one_line_naming(info.value, key)


@pytest.mark.parametrize("key", sorted(TABLES))
@settings(max_examples=25, deadline=None)
@given(text=BAD_NUMBERS, data=st.data())
def test_every_number_in_a_fault_table_refuses_what_is_not_a_decimal_number(key, text, data):
    form = data.draw(st.sampled_from(TABLES[key]))
    with pytest.raises(ConfigError) as info:
        _override(key, "[" + form.replace("X", text.replace('"', "")) + "]")
    assert "\n" not in str(info.value) and str(info.value).startswith(key)


@settings(max_examples=60, deadline=None)
@given(text=BAD_NUMBERS)
def test_a_sample_file_refuses_what_is_not_a_decimal_number(text):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "lat.txt").write_text(f"0.001\n{text}\n", encoding="utf-8")
        if not text.strip():  # a blank line is allowed in a sample file
            return
        with pytest.raises(ConfigError, match="line 2") as info:
            Config.from_dict({"network": {"client_latency": "empirical:lat.txt"}},
                             base_dir=Path(folder))
        _one_line_naming(info.value, "network.client_latency")


@pytest.mark.parametrize("key", NUMERIC_KEYS)
@settings(max_examples=12, deadline=None)
@given(zero=NEGATIVE_ZEROS)
def test_negative_zero_is_zero_or_refused_in_one_line_everywhere(key, zero):
    for value in (zero, f"{zero}ms"):
        try:
            config = _override(key, value)
        except ConfigError as error:
            assert "\n" not in str(error)
            continue
        parsed = config.get(key)
        assert all(x == 0 and math.copysign(1.0, x) == 1.0 for x in _floats(parsed)), parsed


@pytest.mark.parametrize("key", DELAY_KEYS)
@settings(max_examples=20, deadline=None)
@given(zero=NEGATIVE_ZEROS, form=st.sampled_from(PARAMETERS))
def test_negative_zero_in_a_distribution_parameter_is_zero_or_refused(key, zero, form):
    try:
        config = _override(key, form.replace("X", zero))
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert all(math.copysign(1.0, x) == 1.0 for x in _floats(config.get(key)))


@pytest.mark.parametrize("text, number", [("5", 5), ("-2.5", -2.5), (".5", 0.5), ("1e-3", 1e-3),
                                          (" 7 ", 7), ("+3", 3), ("-0", 0)])
def test_decimal_numbers_in_ascii_are_read_exactly(text, number):
    assert to_float(read_number(text)) == number


def test_a_lognormal_with_negative_zero_sigma_runs():
    config = Config.default().with_overrides({
        "run.duration": 0.05, "run.warmup": 0.01,
        "network.client_latency": "lognormal:median=100us,sigma=-0.0"})
    from sim.engine import simulate

    assert simulate(config).summary["reads"] > 0


# Magnitudes whose arithmetic would overflow, exhaust memory or never finish, each refused at
# validation with its allowed range: (override, the key named, words of the range).
MAGNITUDES = [
    ({"workload.zipf_s": 1e308}, "workload.zipf_s", "between 0 and 10"),
    ({"workload.zipf_s": 10.5}, "workload.zipf_s", "between 0 and 10"),
    ({"network.client_latency": "lognormal:median=1ms,sigma=1e300"}, "network.client_latency",
     "S between 0 and 10"),
    ({"network.client_latency": "pareto:scale=1ms,alpha=1e-300"}, "network.client_latency",
     "A between 0.1 and 1e+06"),
    ({"network.client_latency": "1e300ms"}, "network.client_latency", "between 0 and 1e+09 s"),
    ({"run.duration": "1e10s"}, "run.duration", "between 0 and 1e9 s"),
    ({"faults.master_crash_at": "1e12s"}, "faults.master_crash_at", "a duration"),
    ({"pipeline.batch_size": 10**12}, "pipeline.batch_size", "<= 100,000"),
    ({"workload.mode": "closed", "workload.clients": 1000, "pipeline.batch_size": 100_000},
     "pipeline.batch_size", "at most 10,000,000"),
    ({"workload.value_size": 2**40}, "workload.value_size", "<= 536,870,912"),
    ({"metrics.visibility_points": 10**9}, "metrics.visibility_points", "<= 10,000"),
    ({"run.seed": 2**64}, "run.seed", "<= 9,223,372,036,854,775,807"),
    ({"replication.bandwidth": 1e300}, "replication.bandwidth", "1048576gb"),
    ({"replication.backlog_size": "1e30gb"}, "replication.backlog_size", "1048576gb"),
    ({"workload.read_rate": 1e300}, "workload.read_rate", "<= 1e9"),
]


@pytest.mark.parametrize("overrides, key, words", MAGNITUDES)
def test_magnitudes_beyond_the_model_are_refused_with_their_range(overrides, key, words):
    with pytest.raises(ConfigError) as info:
        Config.default().with_overrides(overrides)
    text = str(info.value)
    assert text.startswith(key) and words in text and "\n" not in text, text


def test_the_largest_allowed_magnitudes_are_accepted():
    Config.default().with_overrides({
        "workload.zipf_s": 10, "workload.keys": 1000, "pipeline.batch_size": 100_000,
        "network.client_latency": "lognormal:median=1us,sigma=10",
        "replication.delay": "pareto:scale=1us,alpha=0.1", "run.seed": 2**63 - 1,
        "workload.value_size": 512 * 2**20, "metrics.visibility_points": 10_000})


@settings(max_examples=60, deadline=None)
@given(text=BAD_NUMBERS, where=st.sampled_from(["log:X:100:3", "lin:1:X:3", "log:Xms:1s:3",
                                                 "lin:1:10:X"]))
def test_a_sweep_range_refuses_what_is_not_a_decimal_number(text, where):
    from sim.experiment.sweep import expand_values

    spec = where.replace("X", text)
    with pytest.raises(ConfigError) as info:
        expand_values("workload.write_rate", spec, 1000.0, limit=1000)
    assert "\n" not in str(info.value) and str(info.value).startswith("workload.write_rate")
