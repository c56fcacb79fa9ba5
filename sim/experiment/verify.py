"""Which rows of an existing ``results.csv`` a resumed sweep may keep.

A sweep directory can be edited by hand, copied into, or written by an older version; a row
that is not exactly what this sweep computes would silently bias every mean over it. So a
resumed sweep keeps a row only when it matches the plan and the row schema:

- ``point`` and ``rep`` are whole numbers naming a run of the grid, and ``seed`` and every
  varied key hold exactly what the plan gives that run (the base configuration is checked
  as a whole against ``meta.json`` before this);
- every metric column the sweep has produced (the *schema*, kept in ``meta.json``) is in
  the file, each cell of the kind the runs produced (number, true/false, text), and empty
  only in a column some run left empty; no cell in a column the sweep never produced;
- one row per run: a copy of a row is kept once, and copies that disagree are all set aside.

Rows of runs that failed (non-empty ``error``) are not checked: the sweep tries them again.
Cells are compared as the text the writer produces (``store.cell_text``), so a float is
matched digit for digit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sim.errors import echo

__all__ = ["Schema", "check_rows", "infer_schema", "summary", "update_schema"]

#: ``{column: {"kind": "number" | "bool" | "text" | "any" | None, "null": bool}}``
Schema = dict[str, dict[str, Any]]
Row = dict[str, Any]
Verdict = tuple[str, str]  # (category, detail)

_NOT_METRICS = frozenset({"point", "rep", "seed", "error"})


def _value_kind(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "text"


def _cell_kind(cell: str) -> str | None:
    if cell == "":
        return None
    if cell in ("True", "False"):
        return "bool"
    try:
        float(cell)
    except ValueError:
        return "text"
    return "number"


def _merge(kind: str | None, new: str | None) -> str | None:
    if kind is None or kind == new:
        return new if kind is None else kind
    return kind if new is None else "any"


def update_schema(schema: Schema, row: Mapping[str, Any], keys: Iterable[str],
                  first: bool) -> bool:
    """Widen ``schema`` by one successful row (typed values); True if it changed.

    ``first`` says no successful row was recorded before: a column that appears later was
    missing (empty) in the earlier rows, so it may be empty.
    """
    skip = _NOT_METRICS | set(keys)
    before = repr(schema)
    for column, value in row.items():
        if column in skip:
            continue
        entry = schema.setdefault(column, {"kind": None, "null": not first})
        kind = _value_kind(value)
        entry["kind"] = _merge(entry["kind"], kind)
        entry["null"] = entry["null"] or kind is None
    for column, entry in schema.items():
        if column not in row:
            entry["null"] = True
    return repr(schema) != before


def infer_schema(columns: list[str], rows: list[Row], keys: Iterable[str]) -> Schema:
    """A schema for a directory written before schemas were recorded: each column's kind is
    that of most of its cells (so a lone ``abc`` among numbers is foreign)."""
    skip = _NOT_METRICS | set(keys)
    ok = [r for r in rows if not r.get("error")]
    schema: Schema = {}
    for column in columns:
        if column in skip:
            continue
        kinds = Counter(_cell_kind(r.get(column, "")) for r in ok)
        null = kinds.pop(None, 0) > 0
        kind = kinds.most_common(1)[0][0] if kinds else None
        schema[column] = {"kind": kind, "null": null}
    return schema


def _whole(cell: str) -> int | None:
    return int(cell) if cell.isdigit() else None


def _verdict(row: Row, columns: list[str], schema: Schema,
             expected: Mapping[tuple[int, int], Mapping[str, str]]) -> Verdict | None:
    """Why ``row`` (string cells) cannot be kept, or None."""
    point, rep = _whole(row.get("point", "")), _whole(row.get("rep", ""))
    if point is None or rep is None:
        return ("not in the grid",
                f"point = {echo(row.get('point'))}, rep = {echo(row.get('rep'))}")
    head = expected.get((point, rep))
    if head is None:
        return ("not in the grid", f"point {point} rep {rep}")
    for column, want in head.items():
        if row.get(column) != want:
            return ("differing from the plan",
                    f"{column} = {echo(row.get(column))} where the plan has {echo(want)}")
    for column in columns:
        if column not in head and column not in schema and column != "error" \
                and row.get(column, "") != "":
            return ("with a column this sweep does not write", column)
    for column, entry in schema.items():
        cell = row.get(column)
        if cell is None:
            return ("missing a metric column", column)
        kind = _cell_kind(cell)
        if kind is None:
            if not entry["null"]:
                return ("with an empty metric", column)
        elif entry["kind"] in ("number", "bool") and kind != entry["kind"]:
            return ("with a metric of the wrong type",
                    f"{column} = {echo(cell)} where a {entry['kind']} belongs")
    return None


def check_rows(columns: list[str], rows: list[Row], schema: Schema,
               expected: Mapping[tuple[int, int], Mapping[str, str]]
               ) -> tuple[list[Row], list[tuple[Row, Verdict]]]:
    """Split the successful ``rows`` into those kept (one per run, file order) and those set
    aside with why. Rows with an error are in neither (they are retried)."""
    kept: dict[tuple[int, int], list[Row]] = {}
    order: list[tuple[int, int]] = []
    aside: list[tuple[Row, Verdict]] = []
    for row in rows:
        if row.get("error"):
            continue
        verdict = _verdict(row, columns, schema, expected)
        if verdict is not None:
            aside.append((row, verdict))
            continue
        run = (int(row["point"]), int(row["rep"]))
        if run not in kept:
            kept[run] = []
            order.append(run)
        kept[run].append(row)
    good: list[Row] = []
    for run in order:
        copies = kept[run]
        if all(copy == copies[0] for copy in copies):
            good.append(copies[0])
            aside += [(copy, ("duplicate", f"point {run[0]} rep {run[1]}"))
                      for copy in copies[1:]]
        else:
            aside += [(copy, ("disagreeing copies", f"point {run[0]} rep {run[1]}"))
                      for copy in copies]
    return good, aside


def summary(aside: list[tuple[Row, Verdict]]) -> str:
    """``"2 duplicate (point 3 rep 1), 1 not in the grid (point 99 rep 0)"``: each
    reason with how many rows and its first example."""
    counts = Counter(category for _, (category, _detail) in aside)
    first: dict[str, str] = {}
    for _, (category, detail) in aside:
        first.setdefault(category, detail)
    parts = [f"{n} {category} ({first[category]})" for category, n in counts.most_common()]
    return ", ".join(parts)
