"""The report as FINDINGS.md defines it: what was checked, what was found, what could not be checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.checks.catalogue import SEVERITIES, Entry

PASSED, FAILED, SKIPPED, NOT_RUN = "passed", "failed", "skipped", "not-run"


@dataclass(frozen=True)
class ResourceRef:
    kind: str
    namespace: str
    name: str
    role: str = ""

    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "role": self.role}


@dataclass(frozen=True)
class Finding:
    entry: Entry
    message: str
    host: str
    resources: tuple[ResourceRef, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: tuple[str, ...] = ()
    port: int | None = None
    subset: str | None = None
    client_namespace: str | None = None
    severity: str = ""  # empty: the catalogue's severity
    change: str = ""  # what-if only: new | unchanged

    def identity(self) -> tuple[object, ...]:
        """What makes two findings the same problem across a change (messages may differ in detail)."""
        return (self.entry.code, self.host, self.port, self.subset, self.client_namespace,
                tuple(sorted((r.kind, r.namespace, r.name) for r in self.resources)))

    @property
    def level(self) -> str:
        return self.severity or self.entry.severity

    def to_dict(self) -> dict[str, Any]:
        evidence = dict(self.evidence)
        if self.entry.related and "related" not in evidence:
            evidence["related"] = list(self.entry.related)
        return {
            "id": self.entry.id, "code": self.entry.code, "severity": self.level,
            "title": self.entry.title, "message": self.message,
            "host": self.host, "port": self.port, "subset": self.subset, "clientNamespace": self.client_namespace,
            "resources": [r.to_dict() for r in self.resources],
            "evidence": evidence,
            "remediation": list(self.remediation or self.entry.fix),
            "docs": list(self.entry.docs),
        } | ({"change": self.change} if self.change else {})


@dataclass(frozen=True)
class CheckResult:
    entry: Entry
    status: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"id": self.entry.id, "code": self.entry.code, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Source:
    mode: str
    context: str | None
    istio_version: str | None
    auto_mtls: bool
    root_namespace: str


@dataclass(frozen=True)
class Report:
    target_input: str
    host: str
    namespace: str
    source: Source
    checks: tuple[CheckResult, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    routing: dict[str, Any] | None = None  # what each client namespace gets (mesh/views.describe)
    tls: list[dict[str, Any]] | None = None  # client vs server TLS per client namespace, port, subset
    resolved: tuple[Finding, ...] | None = None  # what-if only: findings of the live state the change removes
    workloads: dict[str, Any] | None = None  # Service ports with their derived protocol, and the pods
    suppressed: tuple[tuple[Finding, str], ...] = ()  # (finding, why) silenced on purpose, still listed
    http10: list[dict[str, Any]] | None = None  # per receiving proxy: does it accept HTTP/1.0, and why
    symptoms: dict[str, Any] | None = None  # what the proxies' access logs show, tied to findings (live only)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.level == severity)

    def count_status(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def to_dict(self) -> dict[str, Any]:
        summary: dict[str, int] = {s: self.count(s) for s in SEVERITIES}
        summary["checksPassed"] = self.count_status(PASSED)
        summary["checksSkipped"] = self.count_status(SKIPPED)
        summary["suppressed"] = len(self.suppressed)
        return {
            "apiVersion": "meshdoctor/v1",
            "kind": "Report",
            "target": {"input": self.target_input, "host": self.host, "namespace": self.namespace},
            "source": {"mode": self.source.mode, "context": self.source.context,
                       "istio": {"version": self.source.istio_version, "autoMtls": self.source.auto_mtls,
                                 "rootNamespace": self.source.root_namespace}},
            "summary": summary,
            "checks": [c.to_dict() for c in self.checks],
            "findings": [f.to_dict() for f in self.findings],
            "routing": self.routing,
            "tls": self.tls,
            "workloads": self.workloads,
            "http10": self.http10,
            "symptoms": self.symptoms,
            "suppressed": [f.to_dict() | {"suppressedBy": why} for f, why in self.suppressed],
            **({"resolved": [f.to_dict() for f in self.resolved]} if self.resolved is not None else {}),
            "notes": list(self.notes),
        }
