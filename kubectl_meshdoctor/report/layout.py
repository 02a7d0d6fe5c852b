"""The reading order shared by the human renderers: families in the guidelines' order, each check
with its findings underneath."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_meshdoctor.checks.catalogue import FAMILIES, Family
from kubectl_meshdoctor.checks.findings import CheckResult, Finding
from kubectl_meshdoctor.checks.severity import CheckStatus, Severity
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.report.sections import ClientRouting, Symptoms

MARKS = {CheckStatus.PASSED: "✓", CheckStatus.SKIPPED: "-", CheckStatus.PARTIAL: "~", CheckStatus.NOT_RUN: "·"}
SEVERITY_MARKS = {Severity.ERROR: "✗", Severity.WARNING: "‼", Severity.INFO: "i"}


@dataclass(frozen=True)
class CheckLine:
    result: CheckResult
    findings: tuple[Finding, ...]

    @property
    def mark(self) -> str:
        if self.result.status == CheckStatus.FAILED:
            worst = min(self.findings, key=lambda f: f.level.rank)
            return SEVERITY_MARKS[worst.level]
        return MARKS[self.result.status]

    @property
    def severity(self) -> str:
        return next((f.level.value for f in self.findings), "")


def sections(report: Report) -> list[tuple[Family, list[CheckLine]]]:
    out = []
    for family in FAMILIES:
        lines = sorted((CheckLine(r, tuple(f for f in report.findings if f.entry.code == r.entry.code))
                        for r in report.checks if r.entry.family == family.key), key=_reading_order)
        if lines:
            out.append((family, lines))
    return out


def _reading_order(line: CheckLine) -> tuple[int, str]:
    """Within a family: errors, warnings, infos, then skipped, passed, not run."""
    rank = {"✗": 0, "‼": 1, "i": 2, "-": 3, "~": 3, "✓": 4, "·": 5}[line.mark]
    return rank, line.result.entry.code


def impact(finding: Finding) -> tuple[int, int, str]:
    """Worst first: errors that fail every request they concern (no endpoints, a TLS conflict, an
    undefined subset), then the rest by severity."""
    outage = finding.entry.outage and finding.level == Severity.ERROR
    return (0 if outage else 1), finding.level.rank, finding.entry.code


def worst(report: Report) -> str:
    finding = min(report.findings, key=impact, default=None)
    return f"{finding.entry.code} {finding.entry.id}" if finding else "-"


@dataclass(frozen=True)
class Overview:
    """What the human reports lead with: the problems by impact, then what could not be checked; the
    checks that passed or did not apply are only counted (--verbose lists them)."""

    problems: tuple[Finding, ...]
    incomplete: tuple[CheckResult, ...]
    passed: int
    not_run: int

    @classmethod
    def of(cls, report: Report) -> Overview:
        return cls(tuple(sorted(report.findings, key=impact)),
                   tuple(c for c in report.checks if c.status.incomplete),
                   report.count_status(CheckStatus.PASSED), report.count_status(CheckStatus.NOT_RUN))

    def collapsed(self) -> str:
        parts = [f"{self.passed} check{'s' if self.passed != 1 else ''} passed"] + (
            [f"{self.not_run} did not apply or were not asked for"] if self.not_run else [])
        return ", ".join(parts) + " (--verbose lists every check)"


def source_line(report: Report) -> str:
    src = report.source
    where = {"live": "live cluster", "offline": "files only (--offline)", "overlay": "live cluster + files"}
    parts = [where.get(src.mode, src.mode)]
    if src.context:
        parts.append(f"context {src.context}")
    parts.append(f"Istio {src.istio_version or 'version unknown'}")
    parts.append(f"auto mTLS {'on' if src.auto_mtls else 'off'}")
    parts.append(f"root namespace {src.root_namespace}")
    return " · ".join(parts)


def group_views(views: tuple[ClientRouting, ...]) -> list[tuple[list[str], ClientRouting]]:
    """Client namespaces that get exactly the same VirtualService and DestinationRule, shown once."""
    groups: dict[object, tuple[list[str], ClientRouting]] = {}
    for view in views:
        key = (view.virtual_service, view.destination_rule, view.sidecar)
        groups.setdefault(key, ([], view))[0].append(view.client_namespace)
    return list(groups.values())


def symptom_lines(symptoms: Symptoms) -> tuple[str, list[tuple[bool, str, str]]]:
    """The Symptoms section as (heading, [(explained, what was seen, what explains it)]), for every
    human format alike."""
    if symptoms.not_read:
        return f"Symptoms: proxy logs not read ({symptoms.not_read})", []
    classes = ", ".join(f"{k} {v}" for k, v in symptoms.by_class.items()) or "none"
    heading = (f"Symptoms in the proxy logs (last {symptoms.window}: {symptoms.proxies_read} proxies, "
               f"{symptoms.for_host} of {symptoms.access_log_lines} access-log lines for this host: {classes}"
               + (f"; {symptoms.unparsed_lines} lines not understood" if symptoms.unparsed_lines else "")
               + (f"; INCOMPLETE, {symptoms.logs_not_read}" if symptoms.logs_not_read else "") + ")")
    lines = []
    for e in symptoms.entries:
        flags = ",".join(e.flags) or "-"
        where = ", ".join(x for x in (f"port {e.port}" if e.port else "", f"subset {e.subset}" if e.subset else "")
                          if x)
        what = (f"connection failed ({e.details})" if e.direction.startswith("ztunnel") else
                f"{e.code} {flags}{' ' + e.details if e.details else ''}")
        seen = (f"{what} ×{e.count} {e.direction} "
                f"at {', '.join(e.pods[:3])}{' (' + where + ')' if where else ''}, {e.first} – {e.last}")
        cause = f"explained by {', '.join(e.explained_by)}: {e.explanation}" if e.explained_by else e.explanation
        lines.append((bool(e.explained_by), seen, cause))
    return heading, lines
