"""The exit code of FINDINGS.md, computed in one place for every output format."""

from __future__ import annotations

from kubectl_meshdoctor.errors import ExitCode
from kubectl_meshdoctor.report.model import SKIPPED, Report

RANK = {"error": 0, "warning": 1, "info": 2}
FAIL_ON = ("error", "warning", "info", "none")


def exit_code(report: Report, fail_on: str = "error") -> ExitCode:
    if fail_on != "none" and any(RANK[f.level] <= RANK[fail_on] for f in report.findings):
        return ExitCode.FINDINGS
    if any(c.status == SKIPPED for c in report.checks):
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def headline(report: Report) -> str:
    """One line that answers 'is traffic to this host broken?'."""
    errors, warnings, infos = (report.count(s) for s in ("error", "warning", "info"))
    skipped = report.count_status(SKIPPED)
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
