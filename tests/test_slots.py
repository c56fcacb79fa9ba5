"""Hash slots as Redis Cluster computes them, and the slot ranges of redis-cli."""

from __future__ import annotations

from sim.model.slots import SLOTS, crc16, key_slot, shard_of_keys, slot_ranges


def test_crc16_is_xmodem_and_key_slots_match_the_cluster_specification():
    assert crc16(b"123456789") == 0x31C3  # the XMODEM check value the specification cites
    assert key_slot("foo") == 12182  # CLUSTER KEYSLOT foo, in the Redis documentation
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers") == key_slot(
        "user1000")
    assert key_slot("foo{}{bar}") == crc16(b"foo{}{bar}") % SLOTS  # empty tag: whole name
    assert key_slot("foo{{bar}}zap") == key_slot("{bar")  # first { to the next }


def test_slots_are_spread_as_redis_cli_cluster_create_spreads_them():
    assert slot_ranges(3) == [(0, 5460), (5461, 10922), (10923, 16383)]
    for shards in (1, 2, 5, 7, 10, 100, 16384):
        ranges = slot_ranges(shards)
        assert ranges[0][0] == 0 and ranges[-1][1] == SLOTS - 1
        assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:], strict=False))
        sizes = [last - first + 1 for first, last in ranges]
        assert max(sizes) - min(sizes) <= 1


def test_every_key_has_the_shard_of_its_slot():
    owner = shard_of_keys(1000, 4)
    ranges = slot_ranges(4)
    for n in (0, 1, 999):
        first, last = ranges[owner[n]]
        assert first <= key_slot(f"key:{n}") <= last
    assert set(owner) == {0, 1, 2, 3}
