"""The exit code of FINDINGS.md and the one-line verdict, computed in one place for every command and
output format."""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.severity import CheckStatus, FailOn, Severity
from kubectl_meshdoctor.errors import ExitCode
from kubectl_meshdoctor.report.docs import PlanReport, ScanReport, TlsReport
from kubectl_meshdoctor.report.model import Report

_INCOMPLETE = tuple(s for s in CheckStatus if s.incomplete)


def exit_code(doc: Any, fail_on: FailOn = FailOn.ERROR) -> ExitCode:
    if isinstance(doc, TlsReport):
        return exit_code(doc.report, fail_on)
    if isinstance(doc, ScanReport):  # findings anywhere decide it; else the worst of the others
        worst = ExitCode.OK
        for report in doc.reports:
            code = exit_code(report, fail_on)
            if code == ExitCode.FINDINGS:
                return code
            worst = max(worst, code)
        return worst
    if isinstance(doc, PlanReport):
        return ExitCode.FINDINGS if any(fail_on.fails(f.level) for f in doc.findings) else ExitCode.OK
    if not isinstance(doc, Report):
        return ExitCode.OK
    if any(fail_on.fails(f.level) for f in doc.findings):
        return ExitCode.FINDINGS
    if any(c.status in _INCOMPLETE for c in doc.checks):  # CheckStatus.incomplete, asked 47 times per host
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def headline(report: Report) -> str:
    """One line that answers 'is traffic to this host broken?'. A run that could not check everything
    says so first and is never called clean."""
    errors, warnings, infos = (report.count(s) for s in Severity)
    counts = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in
                       ((errors, "error"), (warnings, "warning"), (infos, "info")) if n)
    skipped, partial = report.count_status(CheckStatus.SKIPPED), report.count_status(CheckStatus.PARTIAL)
    gap = ", ".join(f"{n} {word}" for n, word in ((skipped, "could not run"), (partial, "saw only part of "
                                                                                  "their data")) if n)
    if errors:
        verdict = "traffic to this host is failing or will fail"
    elif warnings:
        verdict = "traffic flows, but configuration is ignored or fragile"
    elif gap:
        verdict = "no problem in what could be checked, but this is not an all-clear"
    elif counts:
        verdict = "nothing is failing; worth knowing during triage"
    else:
        verdict = "no problems found: every check that applies passed"
    if gap:
        checks = skipped + partial
        return f"INCOMPLETE: {checks} check{'s' if checks != 1 else ''} ({gap}); " + \
            (f"{counts} — {verdict}" if counts else verdict)
    return f"{counts} — {verdict}" if counts else verdict
