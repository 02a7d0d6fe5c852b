"""Tables written directly (no styling: piped, or without a colour system) must be exactly what rich
draws for them: rich is the oracle here, on generated tables and on every example world's scan table."""

from __future__ import annotations

import io
import os
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from kubectl_meshdoctor.report.tables import plain_lines, render_table, rich_table
from tests.conftest import EXAMPLES, offline, run_cli

ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


def both(headers: list[str], rows: list[list[str]], width: int) -> tuple[str, str]:
    direct, oracle = io.StringIO(), io.StringIO()
    render_table(headers, rows, Console(file=direct, width=width, color_system=None))
    rich_table(headers, rows, Console(file=oracle, width=width, color_system=None), None)
    return direct.getvalue(), oracle.getvalue()


@settings(max_examples=300, deadline=None)
@given(table=st.integers(1, 5).flatmap(lambda n: st.tuples(
    st.lists(ascii_text.filter(lambda h: h and "[" not in h), min_size=n, max_size=n),  # headers are ours, no markup
    st.lists(st.lists(ascii_text, min_size=n, max_size=n), max_size=12))), width=st.integers(20, 200))
def test_a_table_written_directly_is_what_rich_draws(table, width):
    headers, rows = table
    with mock.patch.dict(os.environ):
        os.environ.pop("COLUMNS", None)  # piped, no COLUMNS: no width limit
        direct, oracle = both(headers, rows, width)
    assert direct == oracle
    assert direct.splitlines() == plain_lines(headers, rows)  # and it was written directly


def test_a_table_with_text_rich_measures_otherwise_is_left_to_rich():
    headers, rows = ["HOST", "NOTE"], [["r\u00e9views", "\u5bbd"]]  # not ASCII: widths are not lengths
    direct, oracle = both(headers, rows, 120)
    assert direct == oracle


@pytest.mark.parametrize("world", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_every_example_worlds_scan_table_is_rich_s(world, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    result = run_cli("scan", "-A", *offline(EXAMPLES / world))
    lines = result.stdout.splitlines()
    table = lines[:lines.index(next(line for line in lines if line.endswith("for the details of one.")))]
    headers = table[0].split()
    rows = [line.split("   ") for line in table[2:]]
    rows = [[cell.strip() for cell in row if cell.strip() != ""] for row in rows]
    _, oracle = both(headers, rows, 120)
    assert table == oracle.splitlines()
