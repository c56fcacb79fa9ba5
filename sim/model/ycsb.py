"""Key choices of the YCSB core workloads (Cooper et al., SoCC 2010), drawn as YCSB's
generators draw them (``site.ycsb.generator`` in YCSB's source):

- ``scrambled_zipf``: ``ScrambledZipfianGenerator``. A rank is drawn from a Zipf law over
  ``ITEM_COUNT`` (1e16) items by the method of Gray et al. (SIGMOD 1994) that YCSB's
  ``ZipfianGenerator`` uses, hashed with 64-bit FNV-1a (``Utils.fnvhash64``) and taken modulo
  the number of keys, so the popular keys are scattered over the key space and the head is
  flatter than a Zipf law over the keys themselves (over 1,000 keys the hottest takes about
  3.9% of requests, against 12.9%).
- ``latest``: ``SkewedLatestGenerator`` (workload D). Inserts take keys in sequence and a read
  picks the key inserted r inserts before the latest, r drawn from a Zipf law over the keys.
  The key space stays at ``workload.keys`` records: an insert reuses the slot of the oldest
  record (a ring), where YCSB's record count grows; under a Zipf law the records that old are
  almost never read.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.model.streams import Taker, zipf_cdf

__all__ = ["ITEM_COUNT", "LatestKeys", "fnv1a_64", "scrambled_zipf_draw", "zeta"]

#: Items of the hidden Zipf law behind ScrambledZipfianGenerator, and the zeta YCSB
#: precomputed for its constant 0.99 (YCSB uses this pair as it is; for another constant its
#: constructor computes zeta over ITEM_COUNT, as :func:`zeta` does).
ITEM_COUNT = 10**16
YCSB_ZETAN = 26.46902820178302
YCSB_CONSTANT = 0.99
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(1099511628211)
_LOW_BYTE = np.uint64(0xFF)
_EXACT_TERMS = 1_000_000


def fnv1a_64(values: np.ndarray) -> np.ndarray:
    """YCSB's ``Utils.fnvhash64`` of each value: FNV-1a over the eight bytes, low byte first,
    then the absolute value of the result read as a signed 64-bit integer."""
    val = values.astype(np.uint64)
    hashed = np.full(val.shape, _FNV_OFFSET, dtype=np.uint64)
    for _ in range(8):
        hashed ^= val & _LOW_BYTE
        hashed *= _FNV_PRIME  # wraps modulo 2^64 as Java's long does
        val >>= np.uint64(8)
    return np.abs(hashed.view(np.int64))


def zeta(n: int, s: float) -> float:
    """sum of k^-s for k = 1..n: exact over the first terms, Euler-Maclaurin beyond."""
    m = min(n, _EXACT_TERMS)
    head = math.fsum((np.arange(1, m + 1, dtype=float) ** -s).tolist())
    if n == m:
        return head
    a, b = float(m), float(n)
    integral = math.log(b / a) if s == 1 else (b ** (1 - s) - a ** (1 - s)) / (1 - s)
    return head + integral + (b ** -s - a ** -s) / 2 - s * (b ** (-s - 1) - a ** (-s - 1)) / 12


def scrambled_zipf_draw(rng: np.random.Generator, keys: int,
                        s: float) -> Callable[[int], np.ndarray]:
    """A function drawing ``n`` keys in 0..keys-1 as ScrambledZipfianGenerator does, with
    Zipf constant ``s`` (0 <= s < 1, as Gray's method needs)."""
    zetan = YCSB_ZETAN if s == YCSB_CONSTANT else zeta(ITEM_COUNT, s)
    alpha = 1.0 / (1.0 - s)
    eta = (1 - (2.0 / ITEM_COUNT) ** (1 - s)) / (1 - zeta(2, s) / zetan)
    second = 1.0 + 0.5 ** s

    def draw(n: int) -> np.ndarray:
        u = rng.random(n)
        uz = u * zetan
        rank = (ITEM_COUNT * (eta * u - eta + 1) ** alpha).astype(np.int64)
        rank = np.where(uz < 1.0, 0, np.where(uz < second, 1, rank))
        return fnv1a_64(rank) % keys

    return draw


class LatestKeys:
    """The keys of workload D: ``write()`` / ``writes.take(n)`` the next inserts, ``read()`` /
    ``reads.take(n)`` keys skewed towards the latest insert (see the module docstring). One
    object serves both, since a read follows the inserts made so far."""

    def __init__(self, rng: np.random.Generator, keys: int, s: float) -> None:
        cdf = zipf_cdf(keys, s)
        self.keys = keys
        self.latest = keys - 1  # the load phase inserted keys 0..keys-1
        self.ranks = Taker(lambda n: np.minimum(
            np.searchsorted(cdf, rng.random(n), side="right"), keys - 1))
        self.reads = _Take(self._take_reads)
        self.writes = _Take(self._take_writes)

    def read(self) -> int:
        return (self.latest - self.ranks.take(1)[0]) % self.keys

    def write(self) -> int:
        self.latest += 1
        return self.latest % self.keys

    def _take_reads(self, n: int) -> list[int]:
        latest, keys = self.latest, self.keys
        return [(latest - rank) % keys for rank in self.ranks.take(n)]

    def _take_writes(self, n: int) -> list[int]:
        first = self.latest + 1
        self.latest += n
        return [key % self.keys for key in range(first, first + n)]


class _Take:
    """A :class:`~sim.model.streams.Taker` look-alike over a function of ``n``."""

    __slots__ = ("take",)

    def __init__(self, take: Callable[[int], list[int]]) -> None:
        self.take = take


def scrambled_zipf_shares(keys: int, s: float, draws: int = 1 << 20) -> np.ndarray:
    """Each key's share of requests under ``scrambled_zipf``, estimated from ``draws`` draws
    of a fixed stream (no closed form: the hidden law has 1e16 items)."""
    draw = scrambled_zipf_draw(np.random.default_rng(0), keys, s)
    return np.bincount(draw(draws), minlength=keys) / draws
