"""The report as FINDINGS.md defines it: what was checked, what was found, what could not be checked,
and the typed sections that explain the findings (report/sections.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.checks.findings import CheckResult, Finding
from kubectl_meshdoctor.checks.severity import CheckStatus, Severity
from kubectl_meshdoctor.report.sections import Http10Receiver, Routing, Symptoms, TlsCheckRow, Workloads
from kubectl_meshdoctor.report.serialize import to_data


@dataclass(frozen=True)
class Source:
    mode: str
    context: str | None
    istio_version: str | None
    auto_mtls: bool
    root_namespace: str


@dataclass(frozen=True, kw_only=True)
class Report:
    target_input: str
    host: str
    namespace: str
    source: Source
    checks: tuple[CheckResult, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    routing: Routing | None = None  # what each client namespace gets
    tls: tuple[TlsCheckRow, ...] | None = None  # client vs server TLS per client namespace, port, subset
    resolved: tuple[Finding, ...] | None = None  # what-if only: findings of the live state the change removes
    workloads: Workloads | None = None  # Service ports with their derived protocol, and the pods
    suppressed: tuple[tuple[Finding, str], ...] = ()  # (finding, why) silenced on purpose, still listed
    http10: tuple[Http10Receiver, ...] | None = None  # per receiving proxy: does it accept HTTP/1.0, and why
    symptoms: Symptoms | None = None  # what the proxies' access logs show, tied to findings (live only)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.level == severity)

    def count_status(self, status: CheckStatus) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def to_data(self) -> dict[str, Any]:
        summary: dict[str, int] = {s.value: self.count(s) for s in Severity}
        summary["checksPassed"] = self.count_status(CheckStatus.PASSED)
        summary["checksSkipped"] = self.count_status(CheckStatus.SKIPPED)
        summary["suppressed"] = len(self.suppressed)
        return {
            "apiVersion": "meshdoctor/v1",
            "kind": "Report",
            "target": {"input": self.target_input, "host": self.host, "namespace": self.namespace},
            "source": {"mode": self.source.mode, "context": self.source.context,
                       "istio": {"version": self.source.istio_version, "autoMtls": self.source.auto_mtls,
                                 "rootNamespace": self.source.root_namespace}},
            "summary": summary,
            "checks": to_data(self.checks),
            "findings": to_data(self.findings),
            "routing": to_data(self.routing),
            "tls": to_data(self.tls),
            "workloads": to_data(self.workloads),
            "http10": to_data(self.http10),
            "symptoms": to_data(self.symptoms),
            "suppressed": [f.to_data() | {"suppressedBy": why} for f, why in self.suppressed],
            **({"resolved": to_data(self.resolved)} if self.resolved is not None else {}),
            "notes": list(self.notes),
        }
