"""Named random streams, one per source of randomness, all spawned from the run's seed.

Each stream is keyed by a stable hash of its name, not by its position in a list, so adding a
source or changing a parameter leaves every other stream's samples alone (common random numbers
across the points of a sweep).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import numpy as np

BLOCK = 1024  # samples drawn per numpy call in the hot-path samplers


class Streams:
    """Factory of independent ``numpy.random.Generator`` objects for one run."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def rng(self, name: str) -> np.random.Generator:
        key = zlib.crc32(name.encode("utf-8"))
        seq = np.random.SeedSequence(self.seed, spawn_key=(key,))
        return np.random.Generator(np.random.PCG64(seq))


def _blocks(draw: Callable[[int], np.ndarray]) -> Iterator:
    while True:
        yield from draw(BLOCK).tolist()


def exponential_sampler(rng: np.random.Generator, mean_s: float) -> Callable[[], float]:
    """Inter-arrival times of a Poisson process with the given mean gap (seconds)."""
    return _blocks(lambda n: rng.exponential(mean_s, n)).__next__


def uniform_sampler(rng: np.random.Generator) -> Callable[[], float]:
    """Uniform floats in [0, 1)."""
    return _blocks(rng.random).__next__


def integer_sampler(rng: np.random.Generator, n: int) -> Callable[[], int]:
    """Uniform integers in [0, n)."""
    return _blocks(lambda size: rng.integers(0, n, size)).__next__


def zipf_cdf(keys: int, s: float) -> np.ndarray:
    """Cumulative popularity of keys 0..keys-1, key 0 the most popular (weight 1/(k+1)^s)."""
    weights = 1.0 / np.arange(1, keys + 1, dtype=float) ** s
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _key_draw(rng: np.random.Generator, keys: int, distribution: str,
              zipf_s: float) -> Callable[[int], np.ndarray]:
    if distribution == "uniform" or keys == 1:
        return lambda size: rng.integers(0, keys, size)
    if distribution == "scrambled_zipf":
        from sim.model.ycsb import scrambled_zipf_draw  # only runs that ask for it pay

        return scrambled_zipf_draw(rng, keys, zipf_s)
    cdf = zipf_cdf(keys, zipf_s)

    def draw(n: int) -> np.ndarray:
        idx = np.searchsorted(cdf, rng.random(n), side="right")
        return np.minimum(idx, keys - 1)

    return draw


def key_sampler(rng: np.random.Generator, keys: int, distribution: str,
                zipf_s: float) -> Callable[[], int]:
    """Key choice: ``uniform`` or ``zipf`` over 0..keys-1."""
    return _blocks(_key_draw(rng, keys, distribution, zipf_s)).__next__


def key_taker(rng: np.random.Generator, keys: int, distribution: str,
              zipf_s: float) -> Taker:
    """The keys of :func:`key_sampler`, the same values in the same order, n at a time."""
    return Taker(_key_draw(rng, keys, distribution, zipf_s))


def uniform_taker(rng: np.random.Generator) -> Taker:
    """The floats of :func:`uniform_sampler`, the same values in the same order, n at a time."""
    return Taker(rng.random)


class Taker:
    """Draws of a stream handed out ``n`` at a time (``take(n)`` -> list), for a caller that
    needs a batch at once; block by block exactly as a sampler of the same stream would."""

    __slots__ = ("draw", "buffer", "pos")

    def __init__(self, draw: Callable[[int], np.ndarray]) -> None:
        self.draw = draw
        self.buffer: list = []
        self.pos = 0

    def take(self, n: int) -> list:
        pos, buffer = self.pos, self.buffer
        end = pos + n
        if end <= len(buffer):
            self.pos = end
            return buffer[pos:end]
        out = buffer[pos:]
        while len(out) < n:
            buffer = self.draw(BLOCK).tolist()
            pos = n - len(out)
            out += buffer[:pos]
        self.buffer, self.pos = buffer, pos
        return out
