"""Delay distributions and durations: parsing, canonical strings, fast sampling.

Every value is in seconds. A distribution is an immutable object with an analytic
``mean``, ``sample(rng)`` for occasional draws and ``sampler(rng)`` for the hot path.
``str(d)`` is the canonical config string and parses back to an equal object:

    "0s"  "250us"  "exp:5ms"  "uniform:1ms,9ms"  "lognormal:median=5ms,sigma=0.8"
    "pareto:scale=1ms,alpha=2.5"  "empirical:FILE"
    "mix:0.9122*pareto:scale=235us,alpha=10.0+0.0878*exp:602.4us"

Parsing is a small regular grammar, never ``eval``; every error is a ``ConfigError``
naming the key, the value and what is allowed.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, Inexact, localcontext
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sim.config.numeric import NUMBER_PATTERN, NUMBER_RULES, read_number, to_float
from sim.errors import ConfigError, echo

__all__ = [
    "ConfigError",
    "Constant",
    "Distribution",
    "Empirical",
    "Exponential",
    "LogNormal",
    "Mixture",
    "Pareto",
    "Uniform",
    "format_duration",
    "parse_distribution",
    "parse_duration",
]

# ---------------------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------------------

# Decimal factors, so that "1.5ms" becomes the float nearest to 0.0015 (what the literal
# 1.5e-3 gives) rather than 1.5 * 0.001 with its extra rounding.
_UNIT_SECONDS: dict[str, Decimal] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),  # micro sign
    "μs": Decimal("1e-6"),  # Greek mu, which looks the same
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "min": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
}
# Units format_duration may choose, largest first (the tie-break prefers larger units).
_OUTPUT_UNITS = ("d", "h", "min", "s", "ms", "us", "ns")

_NUMBER = NUMBER_PATTERN
_DURATION_RE = re.compile(rf"\s*(?P<number>{_NUMBER})\s*(?P<unit>[a-zµμ]*)\s*", re.ASCII)

#: Longest duration or delay parameter (s), about 32 years: far beyond any experiment, so a
#: longer one is a slip of unit or exponent, refused before it reaches the arithmetic.
MAX_DURATION_S = 1e9

DURATION_ALLOWED = (
    "a duration between 0 and 1e9 s: seconds as a number, or a number with a unit "
    "ns, us, ms, s, min, h or d (e.g. '250us', '5ms', '2s'), " + NUMBER_RULES
)


def _duration_from_text(text: str) -> float | None:
    """Seconds for a duration string, or None when it does not match the grammar."""
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        return None
    unit = match["unit"] or "s"
    number = read_number(match["number"])
    if unit not in _UNIT_SECONDS or number is None:
        return None
    try:
        return to_float(number * _UNIT_SECONDS[unit])
    except ArithmeticError:  # exponent beyond Decimal's range
        return None


def parse_duration(value: Any, key: str) -> float:
    """Seconds (float >= 0, finite) from a number of seconds or a string like ``"250us"``.

    A bare number string (``"0.5"``) also means seconds. Booleans are rejected. Raises
    ``ConfigError`` naming ``key`` when the value is not a valid duration.
    """
    seconds = duration_seconds(value)
    if seconds is None:
        raise ConfigError(key, value, DURATION_ALLOWED)
    return seconds


def duration_seconds(value: Any) -> float | None:
    """Seconds in 0..MAX_DURATION_S (never -0.0) from a number or a duration string, or None
    when ``value`` is not a valid duration."""
    if isinstance(value, str):
        seconds = _duration_from_text(value)
    else:
        number = read_number(value)
        seconds = None if number is None else to_float(number)
    if seconds is None or not 0 <= seconds <= MAX_DURATION_S:
        return None
    return seconds


def _plain(number: Decimal) -> str:
    """Decimal as positional text without exponent or trailing zeros: 2.50E+2 -> '250'."""
    return format(number.normalize(), "f")


def format_duration(seconds: float) -> str:
    """Shortest readable string that parses back to exactly ``seconds``.

    Picks the unit that gives a number >= 1 with the fewest characters ("1.5ms", not
    "1500us" or "0.0015s"); ties go to the larger unit ("2min", not "120s"). Raises
    ``ValueError`` for a negative or non-finite value, which is not a duration.
    """
    seconds = float(seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration in seconds: {seconds!r}")
    if seconds == 0:
        return "0s"
    exact = Decimal(repr(seconds))  # shortest decimal that round-trips to this float
    candidates: list[tuple[bool, int, int, str]] = []
    for rank, unit in enumerate(_OUTPUT_UNITS):
        with localcontext() as context:
            context.prec = 60
            context.traps[Inexact] = True
            try:
                number = exact / _UNIT_SECONDS[unit]
            except Inexact:  # e.g. 1s in minutes: no exact decimal
                continue
        text = _plain(number)
        candidates.append((number < 1, len(text), rank, text + unit))
    # Extreme magnitudes read better in exponent form than as hundreds of digits.
    candidates.append((seconds < 1, len(repr(seconds)), _OUTPUT_UNITS.index("s"), f"{seconds!r}s"))
    return min(candidates)[3]


# ---------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------

Draw = Callable[[np.random.Generator, int], np.ndarray]


def _blocks(draw: Draw, rng: np.random.Generator, size: int) -> Iterator[float]:
    """Endless stream of samples, drawn ``size`` at a time with numpy.

    The same as a generator doing ``yield from draw(rng, size).tolist()`` in a loop, but
    ``chain.from_iterable`` steps through each list in C, about twice as fast per sample.
    """
    lists = map(lambda _: draw(rng, size).tolist(), itertools.repeat(None))
    return itertools.chain.from_iterable(lists)


class Distribution:
    """A non-negative random delay in seconds.

    Subclasses are frozen dataclasses and provide ``mean`` (analytic, seconds), ``__str__``
    (the canonical config string) and ``_drawer()`` (a function drawing n samples).
    """

    __slots__ = ()
    kind: ClassVar[str]
    mean: float  # analytic mean in seconds; a property or a field in each subclass

    @property
    def is_constant(self) -> bool:
        """True only for ``Constant``."""
        return False

    @property
    def is_zero(self) -> bool:
        """True when every sample is exactly 0."""
        return False

    def _drawer(self) -> Draw:
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` samples in seconds as an array (for estimates made outside the run)."""
        return np.asarray(self._drawer()(rng, n), dtype=float)

    def sample(self, rng: np.random.Generator) -> float:
        """One sample in seconds (not for the hot path: use ``sampler``)."""
        if self.is_zero:
            return 0.0
        return float(self._drawer()(rng, 1)[0])

    def sampler(self, rng: np.random.Generator, block_size: int = 1024) -> Callable[[], float]:
        """A no-argument function returning successive samples in seconds.

        Samples are drawn in numpy blocks of ``block_size``, so one call costs about as
        much as a generator step. The sequence depends only on the state of ``rng``.
        A distribution that is always zero does not use ``rng`` at all.
        """
        if self.is_zero:
            return itertools.repeat(0.0).__next__
        return _blocks(self._drawer(), rng, block_size).__next__


def _set_float(obj: object, name: str) -> None:
    """Store a field as float (frozen dataclasses need object.__setattr__)."""
    object.__setattr__(obj, name, float(getattr(obj, name)) + 0.0)  # -0.0 is 0


@dataclass(frozen=True)
class Constant(Distribution):
    """Always ``value`` seconds."""

    kind: ClassVar[str] = "constant"
    value: float

    def __post_init__(self) -> None:
        _set_float(self, "value")

    @property
    def mean(self) -> float:
        return self.value

    @property
    def is_constant(self) -> bool:
        return True

    @property
    def is_zero(self) -> bool:
        return self.value == 0

    def sample(self, rng: np.random.Generator) -> float:
        return self.value

    def _drawer(self) -> Draw:
        value = self.value  # used only as a component of a Mixture
        return lambda rng, n: np.full(n, value)

    def sampler(self, rng: np.random.Generator, block_size: int = 1024) -> Callable[[], float]:
        return itertools.repeat(self.value).__next__

    def __str__(self) -> str:
        return format_duration(self.value)


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential with the given ``mean`` in seconds (0 means always 0)."""

    kind: ClassVar[str] = "exp"
    mean: float

    def __post_init__(self) -> None:
        _set_float(self, "mean")

    @property
    def is_zero(self) -> bool:
        return self.mean == 0

    def _drawer(self) -> Draw:
        mean = self.mean
        return lambda rng, n: rng.exponential(mean, n)

    def __str__(self) -> str:
        return f"exp:{format_duration(self.mean)}"


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform between ``low`` and ``high`` seconds."""

    kind: ClassVar[str] = "uniform"
    low: float
    high: float

    def __post_init__(self) -> None:
        _set_float(self, "low")
        _set_float(self, "high")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def is_zero(self) -> bool:
        return self.high == 0

    def _drawer(self) -> Draw:
        low, high = self.low, self.high
        return lambda rng, n: rng.uniform(low, high, n)

    def __str__(self) -> str:
        return f"uniform:{format_duration(self.low)},{format_duration(self.high)}"


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal with ``median`` seconds and shape ``sigma`` (std of the log)."""

    kind: ClassVar[str] = "lognormal"
    median: float
    sigma: float

    def __post_init__(self) -> None:
        _set_float(self, "median")
        _set_float(self, "sigma")

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    @property
    def is_zero(self) -> bool:
        return self.median == 0

    def _drawer(self) -> Draw:
        mu, sigma = math.log(self.median), self.sigma
        return lambda rng, n: rng.lognormal(mu, sigma, n)

    def __str__(self) -> str:
        return f"lognormal:median={format_duration(self.median)},sigma={self.sigma!r}"


@dataclass(frozen=True)
class Pareto(Distribution):
    """Classic Pareto: ``scale * (1 + Lomax(alpha))``, so every sample is >= ``scale``.

    The mean is ``scale * alpha / (alpha - 1)``, infinite for ``alpha <= 1``.
    """

    kind: ClassVar[str] = "pareto"
    scale: float
    alpha: float

    def __post_init__(self) -> None:
        _set_float(self, "scale")
        _set_float(self, "alpha")

    @property
    def mean(self) -> float:
        if self.scale == 0:
            return 0.0
        if self.alpha <= 1:
            return math.inf
        return self.scale * self.alpha / (self.alpha - 1)

    @property
    def is_zero(self) -> bool:
        return self.scale == 0

    def _drawer(self) -> Draw:
        scale, alpha = self.scale, self.alpha
        return lambda rng, n: scale * (1.0 + rng.pareto(alpha, n))

    def __str__(self) -> str:
        return f"pareto:scale={format_duration(self.scale)},alpha={self.alpha!r}"


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resampling (uniformly, with replacement) of measured delays in seconds.

    ``path`` is the file the samples were read from, kept for the canonical string.
    """

    kind: ClassVar[str] = "empirical"
    path: str
    samples: tuple[float, ...] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", tuple(float(x) for x in self.samples))

    @functools.cached_property
    def mean(self) -> float:  # computed once: validation asks for it at every sweep point
        return math.fsum(self.samples) / len(self.samples)

    @property
    def is_zero(self) -> bool:
        return max(self.samples) == 0

    def _drawer(self) -> Draw:
        values = np.asarray(self.samples, dtype=float)  # converted once per sampler
        return lambda rng, n: values[rng.integers(0, len(values), n)]

    def __str__(self) -> str:
        return f"empirical:{self.path}"


@dataclass(frozen=True)
class Mixture(Distribution):
    """A finite mixture: each sample comes from component i with probability ``weights[i]``.

    Published latency fits are of this form (PBS, Bailis et al., VLDB 2012, Table 3: a
    Pareto body with an exponential tail). ``weights`` sum to 1; the mean is the weighted
    mean of the components' means (seconds).
    """

    kind: ClassVar[str] = "mix"
    weights: tuple[float, ...]
    components: tuple[Distribution, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        object.__setattr__(self, "components", tuple(self.components))

    @property
    def mean(self) -> float:
        return math.fsum(w * c.mean for w, c in zip(self.weights, self.components, strict=True))

    @property
    def is_zero(self) -> bool:
        return all(c.is_zero for c in self.components)

    def _drawer(self) -> Draw:
        cumulative = np.cumsum(self.weights)
        cumulative /= cumulative[-1]  # within the parser's tolerance of 1: make it exact
        drawers = [c._drawer() for c in self.components]

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            which = np.searchsorted(cumulative, rng.random(n), side="right")
            np.minimum(which, len(drawers) - 1, out=which)
            out = np.empty(n)
            for i, component in enumerate(drawers):
                mask = which == i
                count = int(mask.sum())
                if count:
                    out[mask] = component(rng, count)
            return out

        return draw

    def __str__(self) -> str:
        return "mix:" + "+".join(f"{w!r}*{c}" for w, c in zip(self.weights, self.components,
                                                               strict=True))


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------

DISTRIBUTION_ALLOWED = (
    "a delay: a duration (constant, e.g. '250us'), 'exp:MEAN', 'uniform:LOW,HIGH', "
    "'lognormal:median=M,sigma=S', 'pareto:scale=X,alpha=A', 'empirical:FILE' or "
    "'mix:W1*DIST1+W2*DIST2...'"
)
# Shape bounds: beyond them the arithmetic overflows (a lognormal's mean is
# median * exp(sigma^2 / 2), a Pareto's samples grow as u^(-1/alpha)) or, towards them, every
# sample is already a small multiple of the median or the scale.
MAX_SIGMA = 10.0
MIN_ALPHA = 0.1
MAX_ALPHA = 1e6
_FORMS = {
    "exp": "expected 'exp:MEAN' with MEAN a duration >= 0, e.g. 'exp:5ms'",
    "uniform": "expected 'uniform:LOW,HIGH' with durations 0 <= LOW <= HIGH, e.g. 'uniform:1ms,9ms'",
    "lognormal": f"expected 'lognormal:median=M,sigma=S' with M a duration and S between 0 "
    f"and {MAX_SIGMA:g}, e.g. 'lognormal:median=5ms,sigma=0.8'",
    "pareto": f"expected 'pareto:scale=X,alpha=A' with X a duration and A between "
    f"{MIN_ALPHA:g} and {MAX_ALPHA:g}, e.g. 'pareto:scale=1ms,alpha=2.5'",
    "empirical": "expected 'empirical:FILE' with FILE holding one sample in seconds per line",
    "mix": "expected 'mix:W1*DIST1+W2*DIST2...' with weights > 0 summing to 1 and each DIST "
    "a distribution other than mix, e.g. 'mix:0.9*exp:1ms+0.1*exp:20ms'",
}
MIX_WEIGHT_TOLERANCE = 1e-6  # how far the weights may sum from 1 (decimal rounding in fits)
# A '+' that starts a new component: followed by a weight and '*'. A '+' inside a component
# (an exponent such as 1e+3) is never followed by 'NUMBER*'.
_MIX_SPLIT_RE = re.compile(rf"\+(?=\s*{_NUMBER}\s*\*)")
_KIND_RE = re.compile(r"\s*(?P<kind>[A-Za-z_]\w*)\s*:(?P<rest>.*)", re.DOTALL)


def _duration_part(text: str, key: str, value: Any, kind: str) -> float:
    """A duration inside a distribution string; errors show the whole value."""
    try:
        return parse_duration(text, key)
    except ConfigError:
        raise ConfigError(key, value, f"{echo(text.strip())} is not a duration; {_FORMS[kind]}") from None


def _named_parts(rest: str, names: tuple[str, str], key: str, value: Any, kind: str) -> dict[str, str]:
    """Split ``"a=1,b=2"`` into {name: text}, requiring exactly ``names``, in any order."""
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in names or name in parts:
            raise ConfigError(key, value, _FORMS[kind])
        parts[name] = text
    if set(parts) != set(names):
        raise ConfigError(key, value, _FORMS[kind])
    return parts


def _shape_part(text: str, key: str, value: Any, kind: str, minimum: float,
                maximum: float) -> float:
    """A dimensionless shape parameter (sigma, alpha) in ``minimum..maximum``."""
    number = _real_text(text)
    if number is None:
        raise ConfigError(key, value, f"{echo(text.strip())} is not a number {NUMBER_RULES}; "
                          f"{_FORMS[kind]}")
    if not minimum <= number <= maximum:
        raise ConfigError(key, value, f"{echo(text.strip())} is out of range; {_FORMS[kind]}")
    return number


def _real_text(text: str) -> float | None:
    """The float a number string means by the rules of :mod:`sim.config.numeric`, or None."""
    number = read_number(text)
    return None if number is None else to_float(number)


#: Largest ``empirical:`` samples file read (bytes): about a million samples.
EMPIRICAL_MAX_BYTES = 16 * 2**20


def load_empirical(text: str, key: str, value: Any, base_dir: Path | None) -> Empirical:
    """Read an empirical distribution file: one sample in seconds per line, at most
    :data:`EMPIRICAL_MAX_BYTES` bytes of UTF-8 text.

    Blank lines and ``#`` comments are ignored. A relative path is taken against
    ``base_dir`` (the config file's folder), else the current directory.
    """
    name = text.strip()
    if not name:
        raise ConfigError(key, value, _FORMS["empirical"])
    path = Path(name)
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    path = path.resolve()
    try:
        # Bounded: a path such as /dev/zero, or a huge file, must not be read whole.
        with path.open("rb") as stream:
            data = stream.read(EMPIRICAL_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(key, value, f"cannot read samples file {str(path)!r}: "
                          f"{exc.strerror or exc}") from None
    if len(data) > EMPIRICAL_MAX_BYTES:
        raise ConfigError(key, value, f"samples file {str(path)!r} is larger than "
                          f"{EMPIRICAL_MAX_BYTES // 2**20} MiB; {_FORMS['empirical']}")
    try:
        if b"\0" in data:
            raise UnicodeError("it holds NUL bytes")
        lines = data.decode("utf-8").splitlines()
    except UnicodeError as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ConfigError(key, value, f"samples file {str(path)!r} is not UTF-8 text "
                          f"({reason}); {_FORMS['empirical']}") from None
    samples: list[float] = []
    for number, line in enumerate(lines, start=1):
        line = line.partition("#")[0].strip()
        if not line:
            continue
        sample = _real_text(line)
        if sample is None or not 0 <= sample <= MAX_DURATION_S:
            raise ConfigError(
                key, value, f"{str(path)!r} line {number}: {echo(line)} is not a number of "
                f"seconds between 0 and {MAX_DURATION_S:g} {NUMBER_RULES}")
        samples.append(sample)
    if not samples:
        raise ConfigError(key, value, f"{str(path)!r} holds no samples; {_FORMS['empirical']}")
    return Empirical(str(path), tuple(samples))


def parse_distribution(value: Any, key: str, base_dir: Path | None = None) -> Distribution:
    """A ``Distribution`` from its config form (see the module docstring).

    A number or a plain duration string is a ``Constant``; a ``Distribution`` is returned
    as is. ``empirical:`` paths are relative to ``base_dir``, else the current directory.
    Raises ``ConfigError`` naming ``key``, the value and the allowed forms.
    """
    if isinstance(value, Distribution):
        return value
    match = _KIND_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        seconds = duration_seconds(value)
        if seconds is None:
            raise ConfigError(key, value, f"{DISTRIBUTION_ALLOWED}; durations between 0 and "
                              f"{MAX_DURATION_S:g} s, {NUMBER_RULES}")
        return Constant(seconds)
    kind, rest = match["kind"].lower(), match["rest"]
    if kind == "exp":
        return Exponential(_duration_part(rest, key, value, kind))
    if kind == "uniform":
        bounds = rest.split(",")
        if len(bounds) != 2:
            raise ConfigError(key, value, _FORMS[kind])
        low, high = (_duration_part(text, key, value, kind) for text in bounds)
        if low > high:
            raise ConfigError(key, value, f"LOW must not exceed HIGH; {_FORMS[kind]}")
        return Uniform(low, high)
    if kind == "lognormal":
        parts = _named_parts(rest, ("median", "sigma"), key, value, kind)
        median = _duration_part(parts["median"], key, value, kind)
        return LogNormal(median, _shape_part(parts["sigma"], key, value, kind, 0.0, MAX_SIGMA))
    if kind == "pareto":
        parts = _named_parts(rest, ("scale", "alpha"), key, value, kind)
        scale = _duration_part(parts["scale"], key, value, kind)
        return Pareto(scale, _shape_part(parts["alpha"], key, value, kind, MIN_ALPHA, MAX_ALPHA))
    if kind == "empirical":
        return load_empirical(rest, key, value, base_dir)
    if kind == "mix":
        return _parse_mixture(rest, key, value, base_dir)
    raise ConfigError(
        key,
        value,
        f"unknown distribution kind {echo(kind)}; allowed kinds: exp, uniform, lognormal, "
        "pareto, empirical, mix, or a plain duration for a constant",
    )


def _parse_mixture(rest: str, key: str, value: Any, base_dir: Path | None) -> Mixture:
    """``W1*DIST1+W2*DIST2...``: at least one component, weights > 0 summing to 1."""
    weights: list[float] = []
    components: list[Distribution] = []
    for part in _MIX_SPLIT_RE.split(rest):
        weight_text, star, component_text = part.partition("*")
        weight_text = weight_text.strip()
        weight = _real_text(weight_text)
        if not star or weight is None or weight <= 0:
            raise ConfigError(key, value, f"{part.strip()!r} is not WEIGHT*DIST; {_FORMS['mix']}")
        try:
            component = parse_distribution(component_text.strip(), key, base_dir)
        except ConfigError as exc:
            raise ConfigError(key, value, f"component {component_text.strip()!r}: {exc.allowed}"
                              ) from None
        if isinstance(component, Mixture):
            raise ConfigError(key, value, f"a mix cannot hold another mix; {_FORMS['mix']}")
        weights.append(weight)
        components.append(component)
    total = math.fsum(weights)
    if abs(total - 1.0) > MIX_WEIGHT_TOLERANCE:
        raise ConfigError(key, value, f"the weights sum to {total:g}, not 1; {_FORMS['mix']}")
    return Mixture(tuple(weights), tuple(components))
