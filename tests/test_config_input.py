"""How settings reach a Config: files with or without a byte-order mark, validation once after
the file and every override, and settings nested or dotted wherever a dict is accepted."""

from __future__ import annotations

import pytest

from sim.cli import app as cli
from sim.config.schema import Config
from sim.errors import ConfigError
from sim.experiment.sweep import plan_sweep

FILE = '[run]\nduration = "2s"\nwarmup = "1s"\n[workload]\nmode = "closed"\n'


def test_a_file_with_a_byte_order_mark_reads_as_the_same_file_without(tmp_path):
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_text(FILE, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + FILE.encode())
    assert Config.load(marked) == Config.load(plain) != Config.default()


def test_a_byte_order_mark_reaches_the_command_line_too(tmp_path, capsys):
    marked = tmp_path / "marked.toml"
    marked.write_bytes(b"\xef\xbb\xbf" + FILE.encode())
    assert cli.main(["config", "show", str(marked)]) == 0
    assert 'mode = "closed"' in capsys.readouterr().out


# Each file breaks a cross-field rule that its override repairs.
ONLY_VALID_WITH_OVERRIDES = [
    ('[run]\nduration = "1s"\nwarmup = "5s"\n', ["run.duration=10s"]),
    ("[replication]\nreplicas = 0\n", ["replication.read_policy=master"]),
    ("[replication]\nwait_replicas = 3\n", ["replication.replicas=3"]),
    ('[workload]\nmode = "closed"\nthink_time = 0\n[network]\nclient_latency = 0\n'
     "[cache]\nenabled = false\n[server]\nservice_time = 0\nbatch_overhead = 0\n",
     ["network.client_latency=1ms"]),
]


@pytest.mark.parametrize("text, overrides", ONLY_VALID_WITH_OVERRIDES)
def test_a_file_valid_only_with_its_overrides_is_valid(tmp_path, capsys, text, overrides):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        Config.load(path)
    config = Config.load(path, overrides)
    for item in overrides:
        key, _, value = item.partition("=")
        assert config.get(key) == Config.default().with_overrides([item]).get(key)
    args = [a for item in overrides for a in ("--set", item)]
    assert cli.main(["config", "show", str(path), *args]) == 0, capsys.readouterr().err


def test_the_override_is_checked_against_the_file_not_the_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[replication]\nreplicas = 0\nread_policy = \"master\"\n")
    with pytest.raises(ConfigError, match="replication.wait_replicas"):
        Config.load(path, ["replication.wait_replicas=1"])


NESTED = {"run": {"duration": 3, "seed": 7}, "workload": {"write_rate": 50}}
DOTTED = {"run.duration": 3, "run.seed": 7, "workload.write_rate": 50}


@pytest.mark.parametrize("make", [
    Config.from_dict,
    lambda data: Config.default().with_overrides(data),
    lambda data: Config.from_dict(plan_sweep(data, {}).identity["base_config"]),
])
def test_settings_may_be_nested_or_dotted_wherever_a_dict_is_accepted(make):
    assert make(NESTED) == make(DOTTED) == Config.from_dict(NESTED)
    assert make(DOTTED).run.seed == 7


def test_vary_may_be_nested_or_dotted():
    nested = plan_sweep(None, {"workload": {"write_rate": [10, 20]}})
    dotted = plan_sweep(None, {"workload.write_rate": [10, 20]})
    assert [t.config for t in nested.tasks] == [t.config for t in dotted.tasks]
    assert [t.config.workload.write_rate for t in nested.tasks] == [10, 20]


MIXED = {"run": {"seed": 7}, "workload.write_rate": 50}


@pytest.mark.parametrize("make", [
    Config.from_dict,
    lambda data: Config.default().with_overrides(data),
    lambda data: plan_sweep(data, {}),
    lambda data: plan_sweep(None, {"run": {"seed": [1, 2]}, "workload.write_rate": [1, 2]}),
])
def test_a_mix_of_nested_and_dotted_is_refused_in_one_line(make):
    with pytest.raises(ConfigError) as info:
        make(MIXED)
    text = str(info.value)
    assert "\n" not in text and "not both" in text and "workload.write_rate" in text
