"""The `tls` command's table, in the spirit of the removed `istioctl authn tls-check`, one row per
client namespace x HOST:PORT[|subset]."""

from __future__ import annotations

from rich.console import Console

from kubectl_meshdoctor.report.sections import TlsCheckRow
from kubectl_meshdoctor.report.tables import markdown_table, render_table

COLUMNS = (("HOST:PORT", "address"), ("CLIENT NS", "client_namespace"), ("STATUS", "status"), ("SERVER", "server"),
           ("CLIENT", "client"), ("AUTHN POLICY", "authn_policy"), ("DESTINATION RULE", "destination_rule"))
STATUS_STYLE = {"OK": "green", "AUTO": "green", "CONFLICT": "bold red", "NO PODS": "yellow"}


def cells(row: TlsCheckRow) -> list[str]:
    return [str(getattr(row, name)) for _, name in COLUMNS]


def render_tls_table(rows: tuple[TlsCheckRow, ...], console: Console) -> None:
    render_table([t for t, _ in COLUMNS], (cells(r) for r in rows), console,
                 style=lambda column, value: STATUS_STYLE.get(value, "") if column == 2 else "")


def tls_markdown(rows: tuple[TlsCheckRow, ...]) -> str:
    return markdown_table([t for t, _ in COLUMNS], (cells(r) for r in rows))
