"""Redis Cluster's hash slots: the slot of a key name, and the slot ranges of the shards.

The model's keys are the integers ``0 .. keys-1``; in Redis Cluster each is the key name
``key:<n>`` (``KEY_NAME``), whose slot is ``CRC16(name) mod 16384`` with Redis's CRC16 (the
XMODEM variant: polynomial 0x1021, initial value 0, no reflection), hashing only the part
between the first ``{`` and the next ``}`` when that part is not empty (a hash tag), exactly
as ``CLUSTER KEYSLOT`` computes it. Slots are spread over the shards as
``redis-cli --cluster create`` spreads them over the masters: contiguous ranges of
16384 / shards slots, the boundaries rounded half away from zero.
"""

from __future__ import annotations

SLOTS = 16384
KEY_NAME = "key:{}"  # the Redis key name of the model's key n


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _table()


def crc16(data: bytes) -> int:
    """CRC16/XMODEM of ``data``, the checksum Redis Cluster hashes keys with."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def key_slot(name: str | bytes) -> int:
    """The hash slot (0 .. 16383) of a key name, hash tags included."""
    data = name.encode() if isinstance(name, str) else name
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return crc16(data) % SLOTS


def slot_ranges(shards: int) -> list[tuple[int, int]]:
    """Each shard's slots ``(first, last)``, inclusive, as ``redis-cli --cluster create``
    assigns them to ``shards`` masters."""
    per = SLOTS / shards
    ranges = []
    first, cursor = 0, 0.0
    for i in range(shards):
        last = int(cursor + per - 1 + 0.5)  # lround: every value here is >= 0
        if last > SLOTS or i == shards - 1:
            last = SLOTS - 1
        last = max(last, first)
        ranges.append((first, last))
        first = last + 1
        cursor += per
    return ranges


def shard_of_slot(shards: int) -> list[int]:
    """The shard that owns each slot, by slot."""
    owner = [0] * SLOTS
    for shard, (first, last) in enumerate(slot_ranges(shards)):
        owner[first:last + 1] = [shard] * (last - first + 1)
    return owner


def shard_of_keys(keys: int, shards: int) -> list[int]:
    """The shard that owns each of the model's keys ``0 .. keys-1`` (named ``key:<n>``)."""
    owner = shard_of_slot(shards)
    return [owner[key_slot(KEY_NAME.format(n))] for n in range(keys)]
