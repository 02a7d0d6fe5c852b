"""Joins what the logs show (symptoms) to what the checks found (causes).

Envoy's response flags say how a request failed; the findings say why. The mapping follows
ISTIO-SEMANTICS.md §A.4 (TLS symptoms), §C (missing subsets: 503 NC, or NR with the subset's
cluster name before 1.10) and §E (426 DPE low_version). A symptom with no finding to explain it is
said to be unexplained, with where to look next, never pinned on a guess.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.mesh.symptoms import LogSummary, Symptom
from kubectl_meshdoctor.report.model import Finding

TLS_WORDS = ("tls", "ssl", "certificate", "handshake")
UPSTREAM_CONNECT = ("UF", "URX", "UC")


@dataclass(frozen=True)
class Attributed:
    symptom: Symptom
    explained_by: tuple[Finding, ...]
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return self.symptom.to_dict() | {"explainedBy": [f"{f.entry.code} {f.entry.id}" for f in self.explained_by],
                                         "explanation": self.explanation}


def _on_port(findings: list[Finding], codes: tuple[str, ...], port: int | None) -> list[Finding]:
    return [f for f in findings if f.entry.code in codes and (port is None or f.port in (None, port))]


def _for_subset(findings: list[Finding], code: str, subset: str) -> list[Finding]:
    return [f for f in findings if f.entry.code == code and (not subset or f.subset in (None, subset))]


def explain(symptom: Symptom, findings: list[Finding], host: str) -> Attributed:
    flags = set(symptom.flags)
    where = f"{host}:{symptom.port}" if symptom.port else host
    tls_reason = any(w in symptom.failure.lower() for w in TLS_WORDS)
    tls_findings = _on_port(findings, ("MD201", "MD202"), symptom.port)
    if symptom.http10_rejected:
        found = _on_port(findings, ("MD601", "MD602", "MD603"), None)
        return Attributed(symptom, tuple(found), "HTTP/1.0 requests rejected by the receiving proxy" if found else
                          f"HTTP/1.0 requests to {where} rejected with 426: a client speaks HTTP/1.0")
    if "filter_chain_not_found" in symptom.details or (symptom.code == 400 and "DPE" in flags):
        return Attributed(symptom, tuple(tls_findings), "the server's sidecar got a connection whose TLS does not "
                          "match its mTLS mode" if tls_findings else f"TLS mismatch at {where} not explained by the "
                          "configuration read (a client outside the client namespaces?)")
    if symptom.code == 503 and ("NC" in flags or ("NR" in flags and symptom.subset)):
        found = _for_subset(findings, "MD301", symptom.subset)
        return Attributed(symptom, tuple(found), f"routed to subset {symptom.subset or '?'}, which its clients' "
                          "DestinationRule does not define" if found else
                          f"503 {'/'.join(sorted(flags))}: no cluster for {where} subset {symptom.subset or '-'}, and "
                          "no definition problem is visible now (check again: it may have been a 503 window)")
    if symptom.code == 503 and "UH" in flags:
        found = _for_subset(findings, "MD302", symptom.subset) or _on_port(findings, ("MD506",), None)
        return Attributed(symptom, tuple(found), "no healthy upstream: nothing ready behind it" if found else
                          f"503 UH on {where} not explained by configuration: pods were not ready then, or "
                          "outlier detection ejected them; check the upstream application")
    if flags & set(UPSTREAM_CONNECT) and (tls_reason or tls_findings):
        return Attributed(symptom, tuple(tls_findings), "client and server TLS do not match on this port"
                          if tls_findings else f"{symptom.label()} on {where} with a TLS error, but the TLS "
                          "settings read agree; check certificates and the istio-proxy logs")
    if symptom.code == 404 and "NR" in flags:
        found = [f for f in findings if f.entry.family == "routing"]
        return Attributed(symptom, tuple(found), "no route matched the request" if found else
                          f"404 NR on {where}: no route matched and no routing problem is visible; check the "
                          "VirtualService's hosts and match rules against the requests' Host and path")
    return Attributed(symptom, (), f"{symptom.label()} on {where} not explained by configuration — check the "
                      "upstream application")


def attribute(summary: LogSummary, findings: list[Finding], host: str) -> tuple[list[Attributed], list[Finding]]:
    """Each symptom with the findings that explain it, and the findings with what was observed added to
    their evidence (evidence.observed: the matching counts)."""
    attributed = [explain(s, findings, host) for s in summary.symptoms]
    observed: dict[int, list[dict[str, Any]]] = {}
    for a in attributed:
        for f in a.explained_by:
            observed.setdefault(id(f), []).append({"direction": a.symptom.direction, "code": a.symptom.code,
                                                   "flags": list(a.symptom.flags), "count": a.symptom.count,
                                                   "port": a.symptom.port})
    updated = [dataclasses.replace(f, evidence={**f.evidence, "observed": observed[id(f)]}) if id(f) in observed
               else f for f in findings]
    return attributed, updated


def summary_dict(summary: LogSummary, attributed: list[Attributed]) -> dict[str, Any]:
    return {"window": summary.window, "proxiesRead": summary.pods, "accessLogLines": summary.lines,
            "forHost": summary.for_host, "byClass": summary.by_class, "unparsedLines": summary.unparsed,
            "entries": [a.to_dict() for a in attributed]}
