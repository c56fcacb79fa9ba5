"""Measuring a real Redis: PING, closed loops, and the errors a user can meet."""

from __future__ import annotations

import pytest

from sim.redis.measure import (
    LoopPoint,
    MeasureError,
    measure_closed_loop,
    measure_curve,
    measure_ping,
    merge_points,
    pipeline_depths,
)
from tests.redis_servers import RedisServer, free_port, master_and_replica, requires_redis


def test_pipeline_depths():
    assert pipeline_depths(128) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert pipeline_depths(1) == [1]
    assert pipeline_depths(100) == [1, 2, 4, 8, 16, 32, 64, 100]


def test_merge_takes_medians_and_totals():
    parts = [LoopPoint("SET", 4, 2, n, 0.1, x, p50, 1e-3)
             for n, x, p50 in ((10, 100.0, 1e-3), (30, 300.0, 3e-3), (20, 200.0, 2e-3))]
    merged = merge_points(parts)
    assert merged.batches == 60 and merged.window_s == pytest.approx(0.3)
    assert merged.throughput_ops_s == 200.0 and merged.latency_p50_s == 2e-3


def test_unreachable_server():
    with pytest.raises(MeasureError, match="cannot connect"):
        measure_ping(("127.0.0.1", free_port()))


@pytest.mark.redis
@requires_redis
def test_measurements_against_a_real_pair():
    with master_and_replica() as (master, replica):
        ping = measure_ping(master.address, seconds=0.2)
        assert ping.n > 10 and 0 < ping.rtt_min_s <= ping.rtt_p50_s
        one = measure_closed_loop(master.address, "GET", 1, 1, 0.2)
        deep = measure_closed_loop(master.address, "GET", 64, 1, 0.2)
        # Depth 1 cannot beat one message per round trip; depth 64 carries 64 per trip.
        assert one.throughput_ops_s <= 1.5 / ping.rtt_min_s
        assert deep.throughput_ops_s > 4 * one.throughput_ops_s
        assert deep.latency_p50_s > 0 and one.batches > 10
        several = measure_curve(master.address, [1, 8], [3], ("SET",), 0.2, rounds=2)
        assert [(p.depth, p.clients) for p in several] == [(1, 3), (8, 3)]
        assert all(p.throughput_ops_s > 0 for p in several)
        assert master.client().keys("repsim:cal:*") == []
        # A replica refuses writes: the server's own message, not a hang.
        with pytest.raises(MeasureError, match="read only"):
            measure_closed_loop(replica.address, "SET", 4, 1, 0.1)


@pytest.mark.redis
@requires_redis
def test_a_closed_loop_opens_no_more_connections_than_its_clients():
    """--clients is a limit: set-up and clean-up ride on the measuring connections."""
    with RedisServer() as server:
        admin = server.client()
        admin.config_set("maxclients", len(admin.client_list()) + 3)  # these and three clients
        point = measure_closed_loop(server.address, "GET", 2, 3, 0.1)
        assert point.batches > 0 and point.clients == 3
        assert admin.keys("repsim:cal:*") == []


def test_ci_has_a_redis_server():
    """Locally the real-server tests may skip; in CI (.ci/run installs it) they must run."""
    import os

    from tests.redis_servers import REDIS_SERVER, SKIP_REASON

    if not os.environ.get("CI"):
        pytest.skip("only CI must have a redis-server (.ci/run installs it); set CI to check")
    assert REDIS_SERVER is not None, "CI=true but " + SKIP_REASON


def test_ctrl_c_during_a_clean_up_waits_for_it_to_finish():
    import os
    import signal

    from sim.redis.measure import sigint_deferred

    finished = []
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished.append(True)  # still runs: the interrupt waits for the block's end
    assert finished == [True]


@pytest.mark.redis
@requires_redis
def test_keys_are_deleted_when_a_measurement_is_interrupted(monkeypatch):
    """Ctrl-C with commands still in flight on every connection: none of them may set a key
    again after the clean-up deleted it."""
    from sim.redis import measure

    def interrupted(conns, seconds):
        for conn in conns:
            conn.sock.sendall(conn.message[0])  # a message of 64 SETs out on each
        raise KeyboardInterrupt

    monkeypatch.setattr(measure, "_drive", interrupted)
    with RedisServer() as server:
        with pytest.raises(KeyboardInterrupt):
            measure_closed_loop(server.address, "SET", 64, 4, 0.5)
        assert server.client().keys("repsim:*") == []


@pytest.mark.redis
@requires_redis
def test_a_server_killed_mid_measurement_is_one_line(monkeypatch):
    from sim.redis import measure

    real_drive = measure._drive
    with RedisServer() as server:
        def killed_first(conns, seconds):
            server.process.kill()  # kill -9
            server.process.wait()
            return real_drive(conns, seconds)

        monkeypatch.setattr(measure, "_drive", killed_first)
        with pytest.raises(MeasureError) as caught:
            measure_closed_loop(server.address, "SET", 4, 2, 0.5)
    text = str(caught.value)
    print(text)
    assert "\n" not in text and "the server" in text
