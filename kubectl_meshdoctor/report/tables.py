"""Tables, drawn one way for every command: kubectl-like in a terminal, pipe-safe in markdown."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from kubectl_meshdoctor.report.wrap import break_lines

StyleFn = Callable[[int, str], str]  # (column, value) -> rich style


def cell(text: object) -> str:
    """A value safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]], console: Console, *,
                 style: StyleFn | None = None) -> None:
    """Cells are Text, never markup: cluster names print as written. A cell is never folded or cut (a
    host name split over two lines cannot be pasted): when the table is wider than the screen, each
    row becomes a block, its first cell on a line of its own and the others below it, one a line."""
    rows = [[str(v) for v in row] for row in rows]
    if _plain_ok(headers, rows, console):
        plain, limit = plain_lines(headers, rows), width_limit(console)
        if limit is None or len(plain[0]) <= limit:
            console.file.write("".join(f"{line}\n" for line in plain))
            return
    rich_table(headers, rows, console, style)


def rich_table(headers: Sequence[str], rows: list[list[str]], console: Console, style: StyleFn | None) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    cells = [[Text(v, style=style(i, v) if style else "") for i, v in enumerate(row)] for row in rows]
    for row_cells in cells:
        table.add_row(*row_cells)
    natural = Measurement.get(console, console.options.update_width(1 << 20), table).maximum
    limit = width_limit(console)
    if limit is None or natural <= limit:
        if natural > console.width:  # piped: rich never prints wider than its console, so one as wide as the table
            console = Console(file=console.file, width=natural, no_color=console.no_color, color_system=None)
        console.print(table, crop=False)
        return
    label = max(len(h) for h in headers[1:]) + 2
    for n, row_cells in enumerate(cells):
        if n:
            console.print()
        console.print(row_cells[0], no_wrap=True, overflow="ignore", crop=False)
        for header, value in zip(headers[1:], row_cells[1:], strict=True):
            for k, line in enumerate(break_lines(value, max(20, limit - 2 - label))):
                console.print(Text("  " + (header if k == 0 else "").ljust(label), style="dim") + line,
                              no_wrap=True, overflow="ignore", crop=False)


def _plain_ok(headers: Sequence[str], rows: list[list[str]], console: Console) -> bool:
    """Whether the table prints without any styling (no colour system: piped, or NO_COLOR with no
    terminal) and with cells of printable ASCII only, whose width is their length: then it is written
    directly, as rich would draw it (a scan's thousand rows took rich 0.4 s)."""
    return console.color_system is None and all(
        text.isascii() and text.isprintable() for text in itertools.chain(headers, *rows))


def plain_lines(headers: Sequence[str], rows: list[list[str]]) -> list[str]:
    """Rich's SIMPLE_HEAD table without edges or edge padding: columns padded to their widest cell and
    three spaces apart, the header underlined with a rule as wide as the table."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "   ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    header = line(headers)
    return [header, "\u2500" * len(header), *(line(row) for row in rows)]


def width_limit(console: Console) -> int | None:
    """The width a table must fit: the terminal's, or COLUMNS when set; none when piped (a table in a
    log or a file keeps one row a line, as kubectl's does)."""
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console.width
    return None
