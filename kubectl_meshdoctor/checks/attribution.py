"""Joins what the logs show (symptoms) to what the checks found (causes).

Envoy's response flags say how a request failed; the findings say why. The mapping follows
ISTIO-SEMANTICS.md §A.4 (TLS symptoms), §C (missing subsets: 503 NC, or NR with the subset's
cluster name before 1.10) and §E (426 DPE low_version). A symptom with no finding to explain it is
said to be unexplained, with where to look next, never pinned on a guess.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubectl_meshdoctor.checks.findings import Finding
from kubectl_meshdoctor.mesh.symptoms import LogSummary, Symptom

TLS_WORDS = ("tls", "ssl", "certificate", "handshake")
UPSTREAM_CONNECT = ("UF", "URX", "UC")


@dataclass(frozen=True)
class Attributed:
    symptom: Symptom
    explained_by: tuple[Finding, ...]
    explanation: str



class Cause(StrEnum):
    """What a failed request says about its cause; catalogue entries name the ones they explain."""

    HTTP10_REJECTED = "http10-rejected"        # 426 with DPE / low_version (or the <= 1.8 form)
    SERVER_TLS_MISMATCH = "server-tls-mismatch"  # filter_chain_not_found, or 400 DPE at the server
    NO_CLUSTER = "no-cluster"                  # 503 NC (500 NC on a Gateway API route), or NR with a subset's
                                               # cluster before 1.10
    NO_HEALTHY_UPSTREAM = "no-healthy-upstream"  # 503 UH
    UPSTREAM_CONNECT = "upstream-connect"      # UF / URX / UC: TLS when a TLS error or finding says so
    NO_ROUTE = "no-route"                      # 404 NR
    ZTUNNEL_CONNECT = "ztunnel-connect"        # ambient: a connection ztunnel could not make or keep


def cause_of(symptom: Symptom) -> Cause | None:
    if symptom.at_ztunnel:
        return Cause.ZTUNNEL_CONNECT
    flags = set(symptom.flags)
    if symptom.http10_rejected:
        return Cause.HTTP10_REJECTED
    if "filter_chain_not_found" in symptom.details or (symptom.code == 400 and "DPE" in flags):
        return Cause.SERVER_TLS_MISMATCH
    if symptom.code == 503 and ("NC" in flags or ("NR" in flags and symptom.subset)):
        return Cause.NO_CLUSTER
    if symptom.code == 500 and "NC" in flags:  # a Gateway API route's missing cluster (route.go, 1.28)
        return Cause.NO_CLUSTER
    if symptom.code == 503 and "UH" in flags:
        return Cause.NO_HEALTHY_UPSTREAM
    if flags & set(UPSTREAM_CONNECT):
        return Cause.UPSTREAM_CONNECT
    if symptom.code == 404 and "NR" in flags:
        return Cause.NO_ROUTE
    return None


# how a finding must match the symptom's place to explain it: on its port, or for its subset
BY_PORT = {Cause.SERVER_TLS_MISMATCH, Cause.UPSTREAM_CONNECT, Cause.ZTUNNEL_CONNECT}
BY_SUBSET = {Cause.NO_CLUSTER, Cause.NO_HEALTHY_UPSTREAM}


def explaining(cause: Cause, symptom: Symptom, findings: list[Finding]) -> list[Finding]:
    """The findings whose catalogue entry explains the cause, at the symptom's port or subset; entries
    marked explains_last only when no other finding does."""
    def fits(f: Finding) -> bool:
        if cause in BY_PORT and symptom.port is not None and f.port not in (None, symptom.port):
            return False
        return not (cause in BY_SUBSET and symptom.subset and f.subset not in (None, symptom.subset))
    found = [f for f in findings if cause in f.entry.explains and fits(f)]
    first = [f for f in found if not f.entry.explains_last]
    return first or found


def explain(symptom: Symptom, findings: list[Finding], host: str) -> Attributed:
    where = f"{host}:{symptom.port}" if symptom.port else host
    cause = cause_of(symptom)
    found = tuple(explaining(cause, symptom, findings)) if cause else ()
    tls_reason = any(w in symptom.failure.lower() for w in TLS_WORDS)
    if cause == Cause.HTTP10_REJECTED:
        return Attributed(symptom, found, "HTTP/1.0 requests rejected by the receiving proxy" if found else
                          f"HTTP/1.0 requests to {where} rejected with 426: a client speaks HTTP/1.0")
    if cause == Cause.SERVER_TLS_MISMATCH:
        return Attributed(symptom, found, "the server's sidecar got a connection whose TLS does not "
                          "match its mTLS mode" if found else f"TLS mismatch at {where} not explained by the "
                          "configuration read (a client outside the client namespaces?)")
    if cause == Cause.NO_CLUSTER:
        flags = "/".join(sorted(symptom.flags))
        return Attributed(symptom, found, f"routed to subset {symptom.subset or '?'}, which its clients' "
                          "DestinationRule does not define" if found else
                          f"503 {flags}: no cluster for {where} subset {symptom.subset or '-'}, and "
                          "no definition problem is visible now (check again: it may have been a 503 window)")
    if cause == Cause.NO_HEALTHY_UPSTREAM:
        return Attributed(symptom, found, "no healthy upstream: nothing ready behind it" if found else
                          f"503 UH on {where} not explained by configuration: pods were not ready then, or "
                          "outlier detection ejected them; check the upstream application")
    if cause == Cause.UPSTREAM_CONNECT and (tls_reason or found):
        return Attributed(symptom, found, "client and server TLS do not match on this port"
                          if found else f"{symptom.label()} on {where} with a TLS error, but the TLS "
                          "settings read agree; check certificates and the istio-proxy logs")
    if cause == Cause.ZTUNNEL_CONNECT:
        return Attributed(symptom, found, "ztunnel could not carry these connections: " + (
            "the waypoint or pods it must reach are not ready, or not in the mesh" if found else
            f"not explained by the configuration read; check the ztunnel pods on the nodes of {where}'s pods and "
            "whether a NetworkPolicy blocks the HBONE port 15008"))
    if cause == Cause.NO_ROUTE:
        return Attributed(symptom, found, "no route matched the request" if found else
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
