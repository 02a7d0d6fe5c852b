"""The `tls` command's table, in the spirit of the removed `istioctl authn tls-check`, one row per
client namespace x HOST:PORT[|subset]."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from kubectl_meshdoctor.report.tables import markdown_table, render_table

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
    render_table([t for t, _ in COLUMNS], (cells(r) for r in rows), console, fold=True,
                 style=lambda column, value: STATUS_STYLE.get(value, "") if column == 2 else "")


def tls_markdown(rows: list[dict[str, Any]]) -> str:
    return markdown_table([t for t, _ in COLUMNS], (cells(r) for r in rows))
