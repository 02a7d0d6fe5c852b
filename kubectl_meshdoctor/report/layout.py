"""The reading order shared by the human renderers: families in the guidelines' order, each check
with its findings underneath."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.checks.catalogue import FAMILIES, Family
from kubectl_meshdoctor.report.model import FAILED, NOT_RUN, PASSED, SKIPPED, CheckResult, Finding, Report

MARKS = {PASSED: "✓", SKIPPED: "-", NOT_RUN: "·"}
SEVERITY_MARKS = {"error": "✗", "warning": "‼", "info": "i"}


@dataclass(frozen=True)
class CheckLine:
    result: CheckResult
    findings: tuple[Finding, ...]

    @property
    def mark(self) -> str:
        if self.result.status == FAILED:
            worst = min(self.findings, key=lambda f: ("error", "warning", "info").index(f.level))
            return SEVERITY_MARKS[worst.level]
        return MARKS[self.result.status]

    @property
    def severity(self) -> str:
        return next((f.level for f in self.findings), "")


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
    rank = {"✗": 0, "‼": 1, "i": 2, "-": 3, "✓": 4, "·": 5}[line.mark]
    return rank, line.result.entry.code


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


def group_views(views: list[dict[str, Any]]) -> list[tuple[list[str], dict[str, Any]]]:
    """Client namespaces that get exactly the same VirtualService and DestinationRule, shown once."""
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for view in views:
        key = json.dumps([view["virtualService"], view["destinationRule"]], sort_keys=True)
        groups.setdefault(key, ([], view))[0].append(view["clientNamespace"])
    return list(groups.values())


def symptom_lines(symptoms: dict[str, Any]) -> tuple[str, list[tuple[bool, str, str]]]:
    """The Symptoms section as (heading, [(explained, what was seen, what explains it)]), for every
    human format alike."""
    if symptoms.get("notRead"):
        return f"Symptoms: proxy logs not read ({symptoms['notRead']})", []
    classes = ", ".join(f"{k} {v}" for k, v in symptoms["byClass"].items()) or "none"
    heading = (f"Symptoms in the proxy logs (last {symptoms['window']}: {symptoms['proxiesRead']} proxies, "
               f"{symptoms['forHost']} of {symptoms['accessLogLines']} access-log lines for this host: {classes}"
               + (f"; {symptoms['unparsedLines']} lines not understood" if symptoms["unparsedLines"] else "") + ")")
    lines = []
    for e in symptoms["entries"]:
        flags = ",".join(e["flags"]) or "-"
        where = ", ".join(x for x in (f"port {e['port']}" if e["port"] else "",
                                      f"subset {e['subset']}" if e["subset"] else "") if x)
        seen = (f"{e['code']} {flags}{' ' + e['details'] if e['details'] else ''} ×{e['count']} {e['direction']} "
                f"at {', '.join(e['pods'][:3])}{' (' + where + ')' if where else ''}, {e['first']} – {e['last']}")
        cause = (f"explained by {', '.join(e['explainedBy'])}: {e['explanation']}" if e["explainedBy"]
                 else e["explanation"])
        lines.append((bool(e["explainedBy"]), seen, cause))
    return heading, lines
