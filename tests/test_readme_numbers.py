"""The numbers the README quotes are what its runs give: the README is exactly what
``scripts/readme_numbers.py`` would write (it recomputes every quoted figure from the runs the
README shows). When the model moves a number, this fails until the script is rerun."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import readme_numbers  # noqa: E402


def test_the_readme_quotes_what_the_runs_give():
    text = readme_numbers.README.read_text()
    rewritten = readme_numbers.rewrite(text)
    new = [line for line in rewritten.splitlines() if line not in text.splitlines()]
    assert rewritten == text, ("the README quotes numbers the runs no longer give; run "
                               "python scripts/readme_numbers.py. It would write:\n"
                               + "\n".join(new))


def test_the_rewrite_finds_every_quote_and_replaces_a_wrong_number():
    text = readme_numbers.README.read_text()
    tampered = text.replace("its p99 (", "its p99 (9", 1)
    assert tampered != text
    assert readme_numbers.rewrite(tampered) == readme_numbers.rewrite(text)
    cached = readme_numbers.runs()[0]["cached"]
    assert 1 - cached["cache_hit_rate"] > 0.01  # the README: "more than 1 % of reads miss"
