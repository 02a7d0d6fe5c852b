"""The `tls` command's table, in the spirit of the removed `istioctl authn tls-check`, one row per
client namespace x HOST:PORT[|subset]."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

COLUMNS = (("HOST:PORT", "address"), ("CLIENT NS", "clientNamespace"), ("STATUS", "status"), ("SERVER", "server"),
           ("CLIENT", "client"), ("AUTHN POLICY", "authnPolicy"), ("DESTINATION RULE", "destinationRule"))
STATUS_STYLE = {"OK": "green", "AUTO": "green", "CONFLICT": "bold red", "NO PODS": "yellow"}


def address(row: dict[str, Any]) -> str:
    return f"{row['host']}:{row['port']}" + (f"|{row['subset']}" if row["subset"] else "")


def cells(row: dict[str, Any]) -> list[str]:
    return [address(row) if key == "address" else str(row[key]) for _, key in COLUMNS]


def render_tls_table(rows: list[dict[str, Any]], console: Console) -> None:
    if not console.is_terminal:  # piped or logged: one row a line rather than folded cells
        console = Console(file=console.file, width=250, no_color=console.no_color, color_system=None)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for title, _ in COLUMNS:
        table.add_column(title, overflow="fold")
    for row in rows:
        values = cells(row)
        table.add_row(*(Text(v, style=STATUS_STYLE.get(v, "")) if i == 2 else Text(v) for i, v in enumerate(values)))
    console.print(table)


def tls_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(t for t, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"
