"""``repsim validate --cluster``: slots and their spread checked against a real Redis Cluster,
a real master killed, the table; servers stopped by the code that started them."""

from __future__ import annotations

import argparse
import shutil
import subprocess

import pytest

from sim.cli import cluster as cli
from sim.cli.redis import register
from sim.model.slots import KEY_NAME, key_slot, slot_ranges
from sim.redis.cluster import ClusterCase, measure_case, running, simulate_case
from sim.redis.measure import redis_client
from tests.redis_servers import requires_redis

needs_cli = pytest.mark.skipif(shutil.which("redis-cli") is None,
                               reason="no redis-cli binary on PATH: install redis-server "
                                      "(Debian/Ubuntu: apt-get install redis-server)")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="repsim")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def _our_servers() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "repsim-cluster-"], capture_output=True, text=True)
    return {int(pid) for pid in out.stdout.split()}


def test_the_cases_and_the_table_without_a_server():
    args = _parse(["validate", "--cluster", "--node-timeout", "1s,2s", "--write-rate", "500"])
    grid = cli.cases(args)
    assert [(c.node_timeout_s, c.write_rate) for c in grid] == [(1.0, 500.0), (2.0, 500.0)]
    assert grid[1].after_s >= 3 * grid[1].node_timeout_s
    sim = simulate_case(ClusterCase(500, 0.5, before_s=1.0, after_s=2.0), seeds=2)
    assert sim["lost_writes"] == 0 and sim["redirects"] == 1
    assert 500 <= sim["detected_ms"] <= 1000 < sim["promoted_ms"] <= sim["write_outage_ms"]
    table = cli.format_table([{"case": grid[0], "real": sim, "sim": sim}])
    assert table.count("\n") == 2 and table.startswith("| node timeout ms |")
    with pytest.raises(ValueError, match="after_s"):
        ClusterCase(500, 2.0, after_s=1.0)


@requires_redis
@needs_cli
def test_key_slots_and_their_spread_are_the_real_clusters():
    with running(ClusterCase()) as cluster:
        names = [KEY_NAME.format(n) for n in range(1000)] + [
            "foo", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "é"]
        with redis_client(cluster.servers[0].address) as client:
            real = [client.execute_command("CLUSTER", "KEYSLOT", name) for name in names]
        assert real == [key_slot(name) for name in names]
        masters = [n for n in cluster.nodes(cluster.servers[0].address)
                   if "master" in n["flags"]]
        assert sorted(n["slots"][0] for n in masters) == slot_ranges(3)
    assert not _our_servers()


@requires_redis
@needs_cli
def test_a_real_master_killed_in_a_cluster():
    """The shard has no writable master from the kill until a replica is promoted, between
    the node timeout and twice it plus the election; a killed process loses nothing on
    loopback; the other shards pause only between FAIL and the promotion."""
    case = ClusterCase(500, 0.5, before_s=1.5, after_s=3.0)
    real = measure_case(case)
    timeout_ms = 1e3 * case.node_timeout_s
    assert real["acked_writes"] > 1000
    assert real["lost_writes"] == 0
    assert timeout_ms <= real["detected_ms"] <= real["promoted_ms"]
    assert real["promoted_ms"] <= 2 * timeout_ms + 1500  # election 0.5-1 s, and slack
    assert real["promoted_ms"] - 50 <= real["write_outage_ms"] <= real["promoted_ms"] + 500
    assert 0 < real["other_shards_gap_ms"] < real["write_outage_ms"]
    assert not _our_servers()
