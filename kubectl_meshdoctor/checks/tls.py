"""TLS between client and server ("503 errors after setting destination rule").

The old `istioctl authn tls-check` compared one DestinationRule with one policy; here every client
namespace that matters is compared with every pod behind the host, per port and subset, and each
conflict names the objects that decided both sides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import CheckContext, has_workloads
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh import tls
from kubectl_meshdoctor.mesh.destinationrules import dr_ref
from kubectl_meshdoctor.snapshot import objects as o

TLS_NEEDS = ("services", "pods", "destinationrules", ("peerauthentications", "policies"))


def _resources(row: tls.TlsRow, endpoints: tuple[tls.Endpoint, ...]) -> list[ResourceRef]:
    out: dict[tuple[str, str, str], str] = {}
    for decider in row.client.deciders:
        ns, name = decider.split()[0].split("/")
        out[("DestinationRule", ns, name)] = "client tls"
    if not row.client.deciders and row.lookup.merged is not None:
        for rule in row.lookup.merged.rules:
            out[("DestinationRule", o.namespace(rule), o.name(rule))] = "client (no tls)"
    for e in endpoints:
        for d in e.server.deciders:
            if d.kind in ("PeerAuthentication", "Policy") and "/" in d.ref:
                ns, name = d.ref.split("/")
                out[(d.kind, ns, name)] = "server mtls"
            elif d.kind == "MeshPolicy":
                out[(d.kind, "", d.ref)] = "server mtls"
        out[("Pod", o.namespace(e.pod), o.name(e.pod))] = "server"
    return [ResourceRef(k, ns, n, role) for (k, ns, n), role in out.items()]


def _group(rows: list[tls.TlsRow], wanted: Callable[[tls.TlsRow, tls.Endpoint], bool],
           ) -> dict[tuple[Any, ...], list[tuple[tls.TlsRow, tuple[tls.Endpoint, ...]]]]:
    """Conflicting rows grouped by what decided them, so one cause gives one finding."""
    groups: dict[tuple[Any, ...], list[tuple[tls.TlsRow, tuple[tls.Endpoint, ...]]]] = defaultdict(list)
    for row in rows:
        bad = tuple(e for e in row.conflicts if wanted(row, e))
        if bad:
            key = (row.host, row.client.label(), row.client.deciders,
                   tuple(sorted({(e.server.mode, e.server.label()) for e in bad})))
            groups[key].append((row, bad))
    return groups


def _evidence(members: list[tuple[tls.TlsRow, tuple[tls.Endpoint, ...]]]) -> dict[str, Any]:
    row, bad = members[0]
    return {"server": bad[0].server.mode, "client": row.client.label(), "sent": bad[0].sent,
            "ports": sorted({r.port.get("port") for r, _ in members}),
            "targetPort": tls.target_port(row.port, bad[0].pod),
            "subsets": sorted({r.subset or "(default)" for r, _ in members}),
            "clientNamespaces": sorted({r.client_ns for r, _ in members}),
            "pods": sorted({o.name(e.pod) for _, es in members for e in es}),
            "destinationRule": list(row.client.deciders), "authnPolicy": bad[0].server.label()}


# ------------------------------------------------------------------------------------------- MD201

@check("MD201", needs=TLS_NEEDS, applies=has_workloads)
def tls_conflict(ctx: CheckContext) -> list[Problem]:
    findings = []
    groups = _group(ctx.tls_rows, lambda row, e: not (row.client.explicit is None and row.client.auto))
    for members in groups.values():
        row, bad = members[0]
        evidence = _evidence(members)
        message, remediation = _conflict_text(row, bad[0], evidence)
        findings.append(Problem(message, row.host, tuple(_resources(row, bad)), evidence,
                                tuple(remediation), port=row.port.get("port"), subset=row.subset or None,
                                client_namespace=evidence["clientNamespaces"][0]))
    return findings


def _conflict_text(row: tls.TlsRow, endpoint: tls.Endpoint, ev: dict[str, Any]) -> tuple[str, list[str]]:
    port, clients = ", ".join(map(str, ev["ports"])), ", ".join(ev["clientNamespaces"])
    pods = ", ".join(ev["pods"][:3]) + (f" and {len(ev['pods']) - 3} more" if len(ev["pods"]) > 3 else "")
    rule = " and ".join(row.client.deciders) or "no DestinationRule"
    server, policy = endpoint.server.mode, endpoint.server.label()
    where = f"{row.host} port{'s' if len(ev['ports']) > 1 else ''} {port}" + (
        f" subset {row.subset}" if row.subset else "")
    if endpoint.sent == tls.ISTIO_MUTUAL:
        what = "has no sidecar" if server == tls.NO_SIDECAR else f"accepts only plaintext ({policy})"
        return (f"DestinationRule {rule} makes clients in {clients} use Istio mutual TLS to {where}, but {pods} "
                f"{what}: every request fails (503, connection reset)",
                [f"Set `tls: {{mode: DISABLE}}` for this host in {rule.split()[0]} (port-level if only port {port} is "
                 "plaintext), or delete the tls block and let auto mTLS choose per endpoint.",
                 "Or give the server a sidecar / a PeerAuthentication that accepts mutual TLS."])
    if row.client.explicit is None:  # unset TLS without auto mTLS: plaintext
        origin = (f"DestinationRule {', '.join(dr_ref(r) for r in row.lookup.merged.rules)} has no trafficPolicy.tls"
                  if row.lookup.merged else "no DestinationRule sets tls") + " and auto mTLS is off"
        return (f"{origin}, so clients in {clients} send plaintext to {where}, but {pods} only accept mutual TLS "
                f"({policy}): every request fails with 503",
                ["Add `trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}` to the DestinationRule for this host (and the same "
                 "under every portLevelSettings entry and subset trafficPolicy that overrides it).",
                 "Or enable auto mTLS (meshConfig.enableAutoMtls: true), or set the server to PERMISSIVE while "
                 "clients are fixed."])
    return (f"DestinationRule {rule} sets tls.mode {endpoint.sent} for {where}, so clients in {clients} cannot "
            f"talk to {pods} ({server}: {policy}): every request fails with 503",
            ["Remove the tls block (auto mTLS will use Istio mutual TLS) or set `trafficPolicy: {tls: {mode: "
             "ISTIO_MUTUAL}}` for this host.",
             "If plaintext is intended, set the server's PeerAuthentication to `mtls: {mode: PERMISSIVE}`."])


# ------------------------------------------------------------------------------------------- MD202

@check("MD202", needs=TLS_NEEDS, applies=has_workloads)
def tls_auto_mtls_blind_spot(ctx: CheckContext) -> list[Problem]:
    findings = []
    groups = _group(ctx.tls_rows, lambda row, e: row.client.explicit is None and row.client.auto)
    for members in groups.values():
        row, bad = members[0]
        evidence = _evidence(members)
        evidence["autoMtls"] = row.client.auto_reason
        e = bad[0]
        pods, port = ", ".join(evidence["pods"][:3]), ", ".join(map(str, evidence["ports"]))
        if "headless" in row.client.auto_reason:
            kind = "headless"
            message = (f"{row.host} is a headless Service with endpoints that have no sidecar, so auto mTLS sends "
                       f"plaintext to all of them, but {pods} require mutual TLS ({e.server.label()})")
            fix = [f"Add a DestinationRule for {row.host} with `trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}`, or "
                   "give every endpoint a sidecar."]
        elif e.sent == tls.ISTIO_MUTUAL:
            kind = "workload-disable"
            message = (f"Auto mTLS looks only at namespace- and mesh-wide policy ({row.client.auto_reason}), so "
                       f"clients in {', '.join(evidence['clientNamespaces'])} send mutual TLS to {row.host} port "
                       f"{port}, but {pods} accept only plaintext there ({e.server.label()})")
            fix = [f"Add a DestinationRule for {row.host} with `trafficPolicy: {{tls: {{mode: DISABLE}}}}` (under "
                   f"portLevelSettings for port {port} if only that port is plaintext).",
                   "Or make the DISABLE namespace-wide so that auto mTLS sees it."]
        else:
            kind = "workload-strict"
            message = (f"Clients decide from the namespace/mesh mode ({row.client.auto_reason}) and send plaintext "
                       f"to {row.host} port {port}, but {pods} require mutual TLS ({e.server.label()})")
            fix = [f"Add a DestinationRule for {row.host} with `trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}`."]
        evidence["blindSpot"] = kind
        findings.append(Problem(message, row.host, tuple(_resources(row, bad)), evidence,
                                tuple(fix), port=evidence["ports"][0], subset=row.subset or None,
                                client_namespace=evidence["clientNamespaces"][0]))
    return findings


# ------------------------------------------------------------------------------------------- MD203

@check("MD203", needs=("services", "pods", "peerauthentications"), applies=has_workloads)
def peer_authentication_ignored(ctx: CheckContext) -> list[Problem]:
    root = ctx.settings.root_namespace
    # a pod's candidates live in its own namespace (the Service's) and the root namespace only
    namespaces = {s.namespace for s in ctx.target.services} | {root}
    pas = [pa for ns in sorted(namespaces) for pa in ctx.snapshot.in_namespace("peerauthentications", ns)]
    inputs = tls.ServerInputs(ctx.snapshot, ctx.settings)
    problems: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for pod in {id(pod): pod for row in ctx.tls_rows for pod in row.pods}.values():
        peers = tls.pod_peer_policies(inputs, pod)
        for pa in peers.root_selectors:
            problems[("root-selector", tls.ref(pa))] = (
                f"PeerAuthentication {tls.ref(pa)} has a selector but lives in the root namespace {root}: "
                "Istio ignores it, so it does not change the mode of the pods it selects", pa)
        for lost, winner, level in peers.losers:
            problems[("duplicate", tls.ref(lost))] = (
                f"PeerAuthentication {tls.ref(lost)} competes with {tls.ref(winner)} at the {level} level; "
                f"only the oldest ({tls.ref(winner)}) applies", lost)
    for pa in pas:
        if not tls.selector_of(pa) and o.spec(pa).get("portLevelMtls"):
            problems[("port-without-selector", tls.ref(pa))] = (
                f"PeerAuthentication {tls.ref(pa)} sets portLevelMtls without a selector: port-level settings apply "
                "only to workload-level policies, so they are ignored", pa)
    findings = []
    for (kind, _), (message, pa) in sorted(problems.items()):
        fix = {"root-selector": "Move the policy to the workload's namespace, or drop its selector to make it "
                                "mesh-wide.",
               "duplicate": "Keep one PeerAuthentication per scope: merge the settings into the one in effect and "
                            "delete the other.",
               "port-without-selector": "Add a selector to the policy (port-level settings need one), or move the "
                                        "port settings into a workload-level policy."}[kind]
        findings.append(Problem(message, ctx.target.host,
                                (ResourceRef("PeerAuthentication", o.namespace(pa), o.name(pa), "ignored"),),
                                {"problem": kind, "peerAuthentication": tls.ref(pa)}, (fix,)))
    return findings
