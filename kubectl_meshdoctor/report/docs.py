"""Every document a command prints besides the host Report: each knows its JSON contract (`to_data`)
and is drawn for people by report/emit.py."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubectl_meshdoctor.checks.catalogue import FAMILY_BY_KEY, Entry
from kubectl_meshdoctor.checks.severity import Severity
from kubectl_meshdoctor.snapshot import objects as o

if TYPE_CHECKING:  # the heavy model is imported by the commands that make these documents, not by `version`
    from kubectl_meshdoctor.checks.findings import Finding
    from kubectl_meshdoctor.mesh.changes import Plan
    from kubectl_meshdoctor.report.model import Report


@dataclass(frozen=True)
class TlsReport:
    """`tls`: the host report of the TLS checks, led by the table of client vs server modes."""

    report: Report

    def to_data(self) -> dict[str, Any]:
        return self.report.to_data()


@dataclass(frozen=True)
class ScanReport:
    reports: tuple[Report, ...]
    system_hosts_left_out: tuple[str, ...] = ()  # without --include-system

    @classmethod
    def ranked(cls, reports: list[Report], left_out: tuple[str, ...] = ()) -> ScanReport:
        """Worst host first, by the same impact order as a host report's problems; then by host and by how
        it was spelled (a scan analyses its hosts in whatever order shares the work best: that must not show)."""
        from kubectl_meshdoctor.report.layout import impact

        def rank(r: Report) -> tuple[tuple[int, int, str], int, int, str, str]:
            worst_first = min((impact(f) for f in r.findings), default=(9, 9, ""))
            return worst_first, -r.count(Severity.ERROR), -r.count(Severity.WARNING), r.host, r.target_input
        return cls(tuple(sorted(reports, key=rank)), left_out)

    def rows(self) -> list[tuple[str, int, int, str]]:
        from kubectl_meshdoctor.report.layout import worst

        return [(r.host, r.count(Severity.ERROR), r.count(Severity.WARNING), worst(r)) for r in self.reports]

    def to_data(self) -> dict[str, Any]:
        return {"apiVersion": "meshdoctor/v1", "kind": "ScanReport",
                "summary": [{"host": h, "errors": e, "warnings": w, "worst": x} for h, e, w, x in self.rows()],
                "systemHostsLeftOut": list(self.system_hosts_left_out),
                "reports": [r.to_data() for r in self.reports]}


@dataclass(frozen=True)
class PlanReport:
    source: str
    plan: Plan
    findings: tuple[Finding, ...]
    files: tuple[str, ...]  # one per step, where the step objects are (written or to write)
    written: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "apiVersion": "meshdoctor/v1", "kind": "Plan", "source": self.source,
            "oneShotSafe": self.plan.one_shot_safe, "stepFilesWritten": self.written,
            "steps": [{"step": i, "title": step.title, "why": list(step.why), "wait": step.wait or None,
                       "command": f"kubectl apply -f {path}",
                       "objects": [{"kind": o.kind(obj), "namespace": o.namespace(obj), "name": o.name(obj)}
                                   for obj in step.objects]}
                      for i, (step, path) in enumerate(zip(self.plan.steps, self.files, strict=True), 1)],
            "findings": [f.to_data() for f in self.findings],
        }


@dataclass(frozen=True)
class Catalogue:
    """`checks`: every catalogue entry and whether it is implemented."""

    entries: tuple[Entry, ...]
    implemented: frozenset[str]

    def rows(self) -> list[dict[str, Any]]:
        return [{"code": e.code, "id": e.id, "family": e.family, "severity": e.severity.value, "liveOnly": e.live,
                 "status": "available" if e.code in self.implemented else "planned", "title": e.title}
                for e in self.entries]

    def to_data(self) -> dict[str, Any]:
        return {"checks": self.rows()}


@dataclass(frozen=True)
class Explanation:
    """`explain CODE`: what a finding means and how to fix it."""

    entry: Entry

    def to_data(self) -> dict[str, Any]:
        e = self.entry
        return {"code": e.code, "id": e.id, "family": e.family, "severity": e.severity.value, "liveOnly": e.live,
                "meaning": e.title, "why": e.why, "fix": list(e.fix), "docs": list(e.docs),
                "related": list(e.related), "guideline": FAMILY_BY_KEY[e.family].guideline}

    def lines(self) -> list[str]:
        e, family = self.entry, FAMILY_BY_KEY[self.entry.family]
        lines = [f"{e.code} {e.id} ({e.severity}; {family.title})", "", f"Meaning: {e.title}.", "",
                 f"Why it breaks traffic: {e.why}", "", "How to fix:"]
        lines += [f"  {i}. {step}" for i, step in enumerate(e.fix, 1)]
        lines += ["", f"Guideline: \"{family.guideline}\"", "Docs: " + " ".join(e.docs)]
        if e.related:
            lines.append("Related: " + ", ".join(e.related))
        if e.live:
            lines.append("Live only: needs the cluster (logs or --probe); not run with --offline.")
        return lines


@dataclass(frozen=True)
class Version:
    version: str

    def to_data(self) -> dict[str, Any]:
        return {"version": self.version, "python": ".".join(map(str, sys.version_info[:3]))}
