"""Tables of sweep results: repetition means with confidence intervals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from sim.measure.metrics import t_quantile


def successful_rows(df: pd.DataFrame, metrics: Iterable[str]) -> pd.DataFrame:
    """Rows of runs that succeeded and have every one of ``metrics``."""
    metrics = list(metrics)
    missing = [m for m in metrics if m not in df.columns]
    if missing:
        raise KeyError(f"no column {missing[0]!r} in the results; columns: {', '.join(df.columns)}")
    if "error" in df.columns:
        df = df[df["error"].fillna("").astype(str) == ""]
    return df.dropna(subset=metrics)


def mean_ci(df: pd.DataFrame, by: str | Sequence[str], metric: str) -> pd.DataFrame:
    """Mean of ``metric`` over repetitions for each combination of ``by`` (one key or a list
    of keys), with a 95% t interval.

    Columns: the ``by`` keys, ``mean``, ``lo``, ``hi``, ``n`` (``lo``/``hi`` are the mean itself
    when there is a single repetition; the interval uses ``n - 1`` degrees of freedom, so it
    says how well the mean of this many seeds is known). Groups keep their first-appearance
    order. Rows whose run failed are left out. For a rate (a fraction: the metric's name ends
    in ``_rate``) the interval is clipped to [0, 1]: the t interval is symmetric, a rate is not,
    and a bound of -0.006 would only say the interval reaches the edge.
    """
    # A key is a string, and list("a.key") would group by its characters.
    by = [by] if isinstance(by, str) else list(by)
    rows = successful_rows(df, [metric])
    grouped = rows.groupby(by, sort=False, dropna=False)[metric]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    half = out["std"].fillna(0.0) / np.sqrt(out["count"])
    half *= [t_quantile(0.975, int(n) - 1) if n > 1 else 0.0 for n in out["count"]]
    out["lo"], out["hi"] = out["mean"] - half, out["mean"] + half
    if metric.partition(".")[0].endswith("_rate"):
        out["lo"], out["hi"] = out["lo"].clip(0.0, 1.0), out["hi"].clip(0.0, 1.0)
    return out.rename(columns={"count": "n"}).drop(columns="std")
