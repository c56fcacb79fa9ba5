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


def key_sampler(rng: np.random.Generator, keys: int, distribution: str,
                zipf_s: float) -> Callable[[], int]:
    """Key choice: ``uniform`` or ``zipf`` over 0..keys-1."""
    if distribution == "uniform" or keys == 1:
        return integer_sampler(rng, keys)
    cdf = zipf_cdf(keys, zipf_s)

    def draw(n: int) -> np.ndarray:
        idx = np.searchsorted(cdf, rng.random(n), side="right")
        return np.minimum(idx, keys - 1)

    return _blocks(draw).__next__
