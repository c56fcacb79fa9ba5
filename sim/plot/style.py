"""The one figure style of the project, for the command line and the notebooks alike.

- Colours: the Okabe–Ito palette (Okabe and Ito, "Color Universal Design", 2008), chosen to stay
  distinguishable for the common forms of colour blindness and in greyscale print; its yellow,
  which washes out on a projector, comes last. Lines also differ by marker, so colour is never
  the only cue. Heatmaps use ``cividis``, a map designed to read the same with deuteranopia.
- Sizes: text at 12-13 pt on a 6.4-inch-wide figure stays readable from the back of a room when
  the figure fills a slide, and at column width in a paper.
- Numbers: ticks at round numbers (1, 2, 5 x 10^k; on log axes whole decades), thousands
  separators ("10,000"), no exponent notation for everyday magnitudes.
- Every saved file carries the package version and git commit in its metadata
  (:func:`save_figure`).

Use :func:`context` (or the :func:`styled` decorator) around code that builds a figure, or
:func:`use` once at the top of a notebook.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import matplotlib as mpl
from matplotlib import ticker

from sim.provenance import creator

__all__ = ["OKABE_ITO", "COLOUR_NAMES", "MARKERS", "colour_name", "RC", "FORMATS", "color", "colors", "marker", "context",
           "use", "styled", "format_number", "round_number", "number_axis", "save_figure"]

# Okabe–Ito, ordered so that the first few colours differ most in lightness as well as hue.
OKABE_ITO = ("#0072B2",  # blue
             "#D55E00",  # vermillion
             "#009E73",  # bluish green
             "#CC79A7",  # reddish purple
             "#E69F00",  # orange
             "#56B4E9",  # sky blue
             "#000000",  # black
             "#F0E442")  # yellow (last: faint on projectors and white paper)
# What a caption calls each colour, so that captions name the colours actually drawn.
COLOUR_NAMES = dict(zip(OKABE_ITO, ("blue", "vermillion", "bluish green", "reddish purple",
                                    "orange", "sky blue", "black", "yellow"), strict=True))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SEQUENTIAL_CMAP = "cividis"
FORMATS = ("png", "svg", "pdf")

RC: dict[str, Any] = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 13,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "figure.titlesize": 14,
    "lines.linewidth": 2.0,
    "lines.markersize": 6,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.cmap": SEQUENTIAL_CMAP,
    "axes.formatter.use_mathtext": False,
    # Log axes label 0.001 ... 100,000 as plain numbers (not 10^3) where no formatter of ours
    # is set (notebook figures drawn with pyplot directly).
    "axes.formatter.min_exponent": 6,
    "savefig.dpi": 150,
    "svg.fonttype": "none",  # text stays text in SVG: editable, searchable, smaller
    "pdf.fonttype": 42,  # TrueType in PDF, as journals ask
}


def color(i: int) -> str:
    """The ``i``-th colour of the palette (cycling)."""
    return OKABE_ITO[i % len(OKABE_ITO)]


def colour_name(colour: str) -> str:
    """The plain name of a palette colour, for a caption ("vermillion")."""
    return COLOUR_NAMES[colour]


def colors(n: int) -> list[str]:
    """``n`` colours; the palette's order also serves ordered values (small to large)."""
    return [color(i) for i in range(n)]


def marker(i: int) -> str:
    """The ``i``-th marker (cycling), to pair with :func:`color`."""
    return MARKERS[i % len(MARKERS)]


@contextlib.contextmanager
def context() -> Iterator[None]:
    """Build figures inside this block to get the project style (rcParams are read when
    artists are created, so the block must enclose the drawing, not only the saving)."""
    with mpl.rc_context(RC):
        yield


def use() -> None:
    """Apply the style for the rest of the session (notebooks)."""
    mpl.rcParams.update(RC)


F = TypeVar("F", bound=Callable[..., Any])


def styled(function: F) -> F:
    """Decorate a function that builds and returns a figure so it draws in :func:`context`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with context():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def round_number(value: float, significant: int = 2) -> float:
    """``value`` to ``significant`` digits: 31.6228 -> 32, 3162.28 -> 3200, 0.0316 -> 0.032."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = significant - 1 - math.floor(math.log10(abs(value)))
    return round(value, digits)


def format_number(value: float, significant: int = 3) -> str:
    """A number for a tick or a legend: thousands separators, no exponent between 1e-4 and 1e9,
    no trailing zeros (``10000 -> "10,000"``, ``0.5 -> "0.5"``, ``31.6228 -> "31.6"``)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    value = float(value)
    if value == 0:
        return "0"
    if not 1e-4 <= abs(value) < 1e9:
        return f"{value:.{significant - 1}e}"
    value = round_number(value, significant)
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _tick_text(value: float, _pos: Any = None) -> str:
    # Ticks sit at round numbers already: 6 digits keep 0.0125 and 1,250,000 exact.
    return format_number(value, 6)


def number_axis(axis: Any, log: bool | None = None, integer: bool = False) -> None:
    """Round-number ticks with thousands separators on one axis (``ax.xaxis`` / ``ax.yaxis``).

    On a log axis, ticks at whole decades (and 2, 5 x when the axis spans less than two
    decades), minor ticks unlabelled. ``integer``: the quantity takes whole values only
    (replicas, WAIT), so no tick falls between them."""
    if log is None:
        log = axis.get_scale() == "log"
    if log:
        low, high = sorted(abs(v) for v in axis.get_view_interval())
        few_decades = low > 0 and high / low < 100
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0) if few_decades
                                                 else (1.0,)))
        axis.set_minor_formatter(ticker.NullFormatter())
    else:
        axis.set_major_locator(ticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10],
                                                  integer=integer))
    axis.set_major_formatter(ticker.FuncFormatter(_tick_text))


def save_figure(fig: Any, path: str | Path, fmt: str | None = None, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` with the package version and git commit in the file's
    "Creator" metadata (a PNG text chunk, SVG Dublin Core, the PDF Info dictionary)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower() or "png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format=fmt, metadata={"Creator": creator()})
    return path


def save_all(fig: Any, stem: str | Path, formats: Sequence[str] = FORMATS,
             dpi: int = 150) -> list[Path]:
    """``stem.png``, ``stem.svg``, ``stem.pdf`` (``stem`` may contain dots)."""
    return [save_figure(fig, Path(f"{stem}.{fmt}"), fmt, dpi) for fmt in formats]
