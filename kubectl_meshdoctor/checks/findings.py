"""A check's output: problems as checks yield them, findings once the catalogue entry is stamped on,
and one result per check (passed, failed, skipped, not-run) with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from kubectl_meshdoctor.checks.catalogue import Entry
from kubectl_meshdoctor.checks.severity import CheckStatus, Severity
from kubectl_meshdoctor.snapshot import objects as o


@dataclass(frozen=True)
class ResourceRef:
    kind: str
    namespace: str
    name: str
    role: str = ""

    @classmethod
    def at(cls, kind: str, ref: str, role: str = "") -> ResourceRef:
        """From `namespace/name` (or a bare name, cluster-scoped)."""
        namespace, _, name = ref.rpartition("/")
        return cls(kind, namespace, name, role)

    @classmethod
    def of(cls, kind: str, obj: dict[str, Any], role: str = "") -> ResourceRef:
        """For a raw object: its namespace and name."""
        return cls(kind, o.namespace(obj), o.name(obj), role)

    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Problem:
    """What a check yields: one problem, without its catalogue entry (the runner stamps that on)."""

    message: str
    host: str
    resources: tuple[ResourceRef, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: tuple[str, ...] = ()  # empty: the catalogue's fix
    port: int | None = None
    subset: str | None = None
    client_namespace: str | None = None
    severity: Severity | None = None  # None: the catalogue's severity


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
    severity: Severity | None = None  # None: the catalogue's severity
    change: str = ""  # what-if only: new | unchanged

    @classmethod
    def of(cls, entry: Entry, problem: Problem) -> Finding:
        return cls(entry, **{f.name: getattr(problem, f.name) for f in fields(Problem)})

    def identity(self) -> tuple[object, ...]:
        """What makes two findings the same problem across a change (messages may differ in detail)."""
        return (self.entry.code, self.host, self.port, self.subset, self.client_namespace,
                tuple(sorted((r.kind, r.namespace, r.name) for r in self.resources)))

    @property
    def level(self) -> Severity:
        return self.severity or self.entry.severity

    def to_data(self) -> dict[str, Any]:
        """The contract's finding: the catalogue's words, this finding's place and evidence."""
        evidence = dict(self.evidence)
        if self.entry.related and "related" not in evidence:
            evidence["related"] = list(self.entry.related)
        return {
            "id": self.entry.id, "code": self.entry.code, "severity": self.level.value,
            "title": self.entry.title, "message": self.message,
            "host": self.host, "port": self.port, "subset": self.subset, "clientNamespace": self.client_namespace,
            "resources": [{"kind": r.kind, "namespace": r.namespace, "name": r.name, "role": r.role}
                          for r in self.resources],
            "evidence": evidence,
            "remediation": list(self.remediation or self.entry.fix),
            "docs": list(self.entry.docs),
        } | ({"change": self.change} if self.change else {})


@dataclass(frozen=True)
class CheckResult:
    entry: Entry
    status: CheckStatus
    reason: str = ""

    def to_data(self) -> dict[str, str]:
        out = {"id": self.entry.id, "code": self.entry.code, "status": self.status.value}
        if self.reason:
            out["reason"] = self.reason
        return out
