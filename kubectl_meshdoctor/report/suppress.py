"""Known exceptions, silenced but never hidden: `--suppress CODE_OR_ID[=Kind/ns/name]` (globs) and the
`meshdoctor.io/suppress: "MD104,vs-unreachable-rule"` annotation on any object a finding involves.
Suppressed findings are counted and listed; they only stop counting towards the exit code."""

from __future__ import annotations

from fnmatch import fnmatchcase

from kubectl_meshdoctor.checks.catalogue import CATALOGUE
from kubectl_meshdoctor.checks.findings import Finding
from kubectl_meshdoctor.cluster.resources import RESOURCES
from kubectl_meshdoctor.errors import UsageError
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

ANNOTATION = "meshdoctor.io/suppress"
_BY_KIND = {r.kind: r.key for r in RESOURCES if not r.stores_as}


def parse_rules(rules: tuple[str, ...]) -> list[tuple[str, str]]:
    parsed = []
    for rule in rules:
        what, _, where = rule.partition("=")
        if not what.strip() or (where and where.count("/") not in (1, 2)):
            raise UsageError(f"--suppress {rule!r}: use CODE_OR_ID or CODE_OR_ID=Kind/namespace/name (globs allowed)")
        if not any(fnmatchcase(e.code, what.strip().upper()) or fnmatchcase(e.id, what.strip().lower())
                   for e in CATALOGUE):
            raise UsageError(f"--suppress {rule!r}: {what.strip()!r} names no check (`kubectl meshdoctor checks` "
                             "lists the codes and ids)")
        parsed.append((what.strip(), where.strip() or "*"))
    return parsed


def _names(finding: Finding, pattern: str) -> bool:
    return fnmatchcase(finding.entry.code, pattern.upper()) or fnmatchcase(finding.entry.id, pattern.lower())


def why_suppressed(finding: Finding, rules: list[tuple[str, str]], snapshot: Snapshot) -> str | None:
    for what, where in rules:
        if _names(finding, what) and (where == "*" or any(
                fnmatchcase(f"{r.kind}/{r.namespace}/{r.name}", where) or fnmatchcase(f"{r.kind}/{r.name}", where)
                for r in finding.resources)):
            return f"--suppress {what}" + (f"={where}" if where != "*" else "")
    for ref in finding.resources:
        key = _BY_KIND.get(ref.kind)
        obj = snapshot.get(key, ref.namespace, ref.name) if key else None
        listed = [s.strip() for s in o.annotations_of(obj).get(ANNOTATION, "").split(",") if s.strip()]
        if any(_names(finding, s) for s in listed):
            return f"annotation {ANNOTATION} on {ref.label()}"
    return None


def split(findings: list[Finding], rules: list[tuple[str, str]], snapshot: Snapshot
          ) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    kept, suppressed = [], []
    for finding in findings:
        reason = why_suppressed(finding, rules, snapshot)
        if reason is None:
            kept.append(finding)
        else:
            suppressed.append((finding, reason))
    return kept, suppressed
