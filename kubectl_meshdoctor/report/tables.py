"""Tables, drawn one way for every command: kubectl-like in a terminal, pipe-safe in markdown."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

StyleFn = Callable[[int, str], str]  # (column, value) -> rich style


def cell(text: object) -> str:
    """A value safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]], console: Console, *,
                 fold: bool = False, style: StyleFn | None = None) -> None:
    """Cells are Text, never markup: cluster names print as written."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=not fold)
    for header in headers:
        table.add_column(header, overflow="fold" if fold else "ellipsis")
    for row in rows:
        table.add_row(*(Text(str(v), style=style(i, str(v)) if style else "") for i, v in enumerate(row)))
    console.print(table)
