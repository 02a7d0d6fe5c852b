"""`-o`: which formats each document supports, and one `emit(doc, output)` for every command.

Machine formats (json, yaml, jsonpath) go straight to stdout from the document's `to_data()`; human
ones (text, markdown, junit) are drawn by the renderer registered for the document's type. A format a
document has no renderer for is refused before the cluster is read (exit 2), never printed as text.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO

from kubectl_meshdoctor.checks.severity import FailOn
from kubectl_meshdoctor.errors import ExitCode, UsageError
from kubectl_meshdoctor.report import machine

if TYPE_CHECKING:
    from kubectl_meshdoctor.report.docs import Catalogue, Explanation, PlanReport, ScanReport, TlsReport, Version
    from kubectl_meshdoctor.report.model import Report


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    YAML = "yaml"
    MARKDOWN = "markdown"
    JUNIT = "junit"
    JSONPATH = "jsonpath"


MACHINE = (Format.JSON, Format.YAML, Format.JSONPATH)


@dataclass(frozen=True)
class Output:
    format: Format = Format.TEXT
    template: str = ""  # jsonpath only
    no_color: bool = False
    verbose: bool = False  # text: list every check, not only the problems

    @property
    def machine(self) -> bool:
        """json, yaml or jsonpath: the whole document is written, report sections included."""
        return self.format in MACHINE


Renderer = Callable[[Any, Output, TextIO], None]


def _text_report(doc: Report, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.report.text import make_console, render_text

    render_text(doc, make_console(stream, out.no_color), out.verbose)


def _markdown_report(doc: Report, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.report.markdown import to_markdown

    stream.write(to_markdown(doc))


def _junit(doc: Report | ScanReport, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.report.junit import to_junit

    stream.write(to_junit(list(doc.reports) if type(doc).__name__ == "ScanReport" else [doc]))


def _text_tls(doc: TlsReport, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.report.text import make_console, render_text
    from kubectl_meshdoctor.report.tls_table import render_tls_table

    console = make_console(stream, out.no_color)
    render_tls_table(doc.report.tls or (), console)
    console.print()
    render_text(doc.report, console, out.verbose)


def _markdown_tls(doc: TlsReport, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.report.markdown import to_markdown
    from kubectl_meshdoctor.report.tls_table import tls_markdown

    stream.write(tls_markdown(doc.report.tls or ()) + "\n" + to_markdown(doc.report))


def _scan_table(doc: ScanReport, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.report.tables import markdown_table, render_table
    from kubectl_meshdoctor.report.text import make_console

    rows = [list(r) for r in doc.rows()]
    if out.format == Format.MARKDOWN:
        stream.write(markdown_table(["host", "errors", "warnings", "worst"], rows))
        if doc.system_hosts_left_out:
            stream.write(f"\n{len(doc.system_hosts_left_out)} hosts of kube-system and the control plane left out "
                         "(`--include-system` scans them).\n")
        return
    console = make_console(stream, out.no_color)
    render_table(["HOST", "ERRORS", "WARNINGS", "WORST"], rows, console)
    console.print(f"{len(rows)} hosts; run `kubectl meshdoctor host HOST` for the details of one.")
    if doc.system_hosts_left_out:
        console.print(f"{len(doc.system_hosts_left_out)} hosts of kube-system and the control plane left out "
                      "(--include-system scans them).")


def _text_plan(doc: PlanReport, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.report.text import make_console, render_plan

    render_plan(doc, make_console(stream, out.no_color))


def _catalogue(doc: Catalogue, out: Output, stream: TextIO) -> None:
    from kubectl_meshdoctor.checks.catalogue import FAMILY_BY_KEY
    from kubectl_meshdoctor.report.tables import markdown_table, render_table
    from kubectl_meshdoctor.report.text import make_console

    rows = doc.rows()
    if out.format == Format.MARKDOWN:
        stream.write(markdown_table(["code", "id", "family", "severity", "live only", "status"],
                                    [[r["code"], r["id"], r["family"], r["severity"],
                                      "yes" if r["liveOnly"] else "", r["status"]] for r in rows]))
        return
    render_table(["CODE", "ID", "FAMILY", "SEVERITY", "LIVE ONLY", "STATUS"],
                 [[r["code"], r["id"], FAMILY_BY_KEY[r["family"]].title, r["severity"],
                   "yes" if r["liveOnly"] else "", r["status"]] for r in rows], make_console(stream, out.no_color))


def _explanation(doc: Explanation, out: Output, stream: TextIO) -> None:
    stream.write("\n".join(doc.lines()) + "\n")


def _version(doc: Version, out: Output, stream: TextIO) -> None:
    stream.write(f"kubectl-meshdoctor {doc.version} (python {doc.to_data()['python']})\n")


# by the document's type name, so that `version` does not import the report model to print one line
HUMAN: dict[str, dict[Format, Renderer]] = {
    "Report": {Format.TEXT: _text_report, Format.MARKDOWN: _markdown_report, Format.JUNIT: _junit},
    "TlsReport": {Format.TEXT: _text_tls, Format.MARKDOWN: _markdown_tls},
    "ScanReport": {Format.TEXT: _scan_table, Format.MARKDOWN: _scan_table, Format.JUNIT: _junit},
    "PlanReport": {Format.TEXT: _text_plan},
    "Catalogue": {Format.TEXT: _catalogue, Format.MARKDOWN: _catalogue},
    "Explanation": {Format.TEXT: _explanation},
    "Version": {Format.TEXT: _version},
}


def parse_output(text: str, doc_type: str, no_color: bool = False, verbose: bool = False) -> Output:
    """`-o` as kubectl spells it (`json`, `jsonpath=TEMPLATE`, `md`), checked against what the command
    prints, so a wrong format is refused before anything is read."""
    name, _, template = text.partition("=")
    name = {"md": "markdown"}.get(name.strip().lower(), name.strip().lower())
    supported = [*HUMAN[doc_type], *MACHINE]
    if name not in supported:
        raise UsageError(f"unknown output format {text!r} for this command: use "
                         f"{', '.join(f.value for f in supported[:-1])} or jsonpath=TEMPLATE")
    if name == Format.JSONPATH and not template:
        raise UsageError("jsonpath output needs a template: -o jsonpath='{.findings[*].id}'")
    if name == Format.JSONPATH:
        machine.check_jsonpath(template)
    return Output(Format(name), template, no_color, verbose)


SCAN_JSON_LEVELS = 4  # document, reports, one report, its sections' items


def emit(doc: Any, out: Output, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if out.format == Format.JSON:
        # a scan indents down to each host report's sections, whose content is one line each
        stream.write(machine.to_json(doc.to_data(), SCAN_JSON_LEVELS if type(doc).__name__ == "ScanReport" else None))
    elif out.format == Format.YAML:
        stream.write(machine.to_yaml(doc.to_data()))
    elif out.format == Format.JSONPATH:
        stream.write(machine.to_jsonpath(doc.to_data(), out.template))
    else:
        HUMAN[type(doc).__name__][out.format](doc, out, stream)


def prepare(kind: str, output: str, no_color: bool, fail_on: str = "error",
            verbose: bool = False) -> tuple[Output, FailOn]:
    """-o and --fail-on of a command whose document is of type `kind`, checked before anything is read."""
    if fail_on not in list(FailOn):
        raise UsageError(f"--fail-on must be one of {', '.join(FailOn)}")
    return parse_output(output, kind, no_color or bool(os.environ.get("NO_COLOR")), verbose), FailOn(fail_on)


def finish(doc: Any, out: Output, fail_on: FailOn | None = None) -> ExitCode:
    """Print the document; its exit code (FINDINGS.md) when the command has --fail-on, else 0."""
    emit(doc, out)
    if fail_on is None:
        return ExitCode.OK
    from kubectl_meshdoctor.report.verdict import exit_code

    return exit_code(doc, fail_on)
