"""The exit code of FINDINGS.md and the one-line verdict, computed in one place for every command and
output format."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from kubectl_meshdoctor.checks.severity import CheckStatus, Severity
from kubectl_meshdoctor.errors import ExitCode
from kubectl_meshdoctor.report.docs import PlanReport, ScanReport, TlsReport
from kubectl_meshdoctor.report.model import Report


class FailOn(StrEnum):
    """--fail-on: the lowest severity that makes the exit code 1 (none: findings never do)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NONE = "none"

    def fails(self, severity: Severity) -> bool:
        return self is not FailOn.NONE and severity.at_least(Severity(self.value))


def exit_code(doc: Any, fail_on: FailOn = FailOn.ERROR) -> ExitCode:
    if isinstance(doc, TlsReport):
        return exit_code(doc.report, fail_on)
    if isinstance(doc, ScanReport):
        codes = [exit_code(r, fail_on) for r in doc.reports] or [ExitCode.OK]
        return ExitCode.FINDINGS if ExitCode.FINDINGS in codes else max(codes)
    if isinstance(doc, PlanReport):
        return ExitCode.FINDINGS if any(fail_on.fails(f.level) for f in doc.findings) else ExitCode.OK
    if not isinstance(doc, Report):
        return ExitCode.OK
    if any(fail_on.fails(f.level) for f in doc.findings):
        return ExitCode.FINDINGS
    if any(c.status == CheckStatus.SKIPPED for c in doc.checks):
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def headline(report: Report) -> str:
    """One line that answers 'is traffic to this host broken?'."""
    errors, warnings, infos = (report.count(s) for s in Severity)
    skipped = report.count_status(CheckStatus.SKIPPED)
    counts = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in
                       ((errors, "error"), (warnings, "warning"), (infos, "info")) if n) or "no problems found"
    incomplete = f"; {skipped} check{'s' if skipped != 1 else ''} could not run, so this is incomplete" \
        if skipped else ""
    if errors:
        verdict = "traffic to this host is failing or will fail"
    elif warnings:
        verdict = "traffic flows, but configuration is ignored or fragile"
    else:
        verdict = "all checks that ran passed"
    return f"{counts} — {verdict}{incomplete}"
