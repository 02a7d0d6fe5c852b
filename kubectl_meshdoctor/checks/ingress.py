"""Ingress gateway routes ("Route rules have no effect on ingress gateway requests").

Requests through a gateway are routed by the VirtualServices bound to that gateway, never by the mesh
VirtualService of the backend; and a Gateway only serves hosts its servers list, on the proxies its
selector picks.
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.base import check, reads
from kubectl_meshdoctor.checks.context import CheckContext
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.workloads import selecting_gateways, service_selector
from kubectl_meshdoctor.snapshot import objects as o


def _vs_ref(vs: dict[str, Any], role: str) -> ResourceRef:
    return ResourceRef("VirtualService", o.namespace(vs), o.name(vs), role)


def _gateway_users(ctx: CheckContext) -> tuple[tuple[dict[str, Any], str], ...]:
    return ctx.routing.gateway_users


def _gateway(ctx: CheckContext, ref: str) -> dict[str, Any] | None:
    ns, _, name = ref.partition("/")
    return ctx.snapshot.get("gateways", ns, name)


@check("MD401", needs=("virtualservices",))
def gateway_route_ignores_subsets(ctx: CheckContext) -> list[Problem]:
    model = ctx.routing
    routed = model.routed_destinations
    mesh_subsets = sorted({r.destination.subset for r in routed if r.gateway == vss.MESH and r.destination.subset})
    if not mesh_subsets:
        return []
    mesh_vs = next(r.vs for r in routed if r.gateway == vss.MESH and r.destination.subset)
    findings = []
    for r in routed:
        if r.gateway == vss.MESH or r.destination.subset:
            continue
        message = (f"Requests through gateway {r.gateway} reach {model.host} by {r.origin} without a subset, so they "
                   f"are spread over all its pods; inside the mesh, VirtualService {vss.vs_ref(mesh_vs)} sends them "
                   f"to subset {', '.join(mesh_subsets)}. The mesh VirtualService never applies to gateway traffic")
        remediation = (f"Add `subset: {mesh_subsets[0]}` to the destination in {r.origin} (the gateway's route).",
                       f"Or use one VirtualService bound to both `mesh` and {r.gateway} that lists both hosts, with "
                       "`match.gateways` on each rule to tell the two kinds of traffic apart.")
        findings.append(Problem(message, model.host, (_vs_ref(r.vs, "gateway route"), _vs_ref(mesh_vs, "mesh route")),
            {"gateway": r.gateway, "gatewayRoute": r.origin, "meshVirtualService": vss.vs_ref(mesh_vs),
             "meshSubsets": mesh_subsets}, remediation))
    return findings


@check("MD402", needs=("virtualservices", "gateways"))
def gateway_not_found(ctx: CheckContext) -> list[Problem]:
    findings = []
    for vs, ref in _gateway_users(ctx):
        if _gateway(ctx, ref) is not None:
            continue
        ns, _, name = ref.partition("/")
        written = next((g for g in o.as_list(o.spec(vs).get("gateways"))
                        if isinstance(g, str) and vss.normalize_gateway(g, o.namespace(vs)) == ref), ref)
        findings.append(Problem(
            f"VirtualService {vss.vs_ref(vs)} is bound to Gateway {ref} (written `{written}`), which "
            "does not exist: its routes are configured on no gateway", ctx.target.host,
            (_vs_ref(vs, "bound to a missing gateway"),), {"gateway": ref, "written": written},
            (f"Create Gateway {name} in namespace {ns}, or fix the reference: a bare name means the "
             f"VirtualService's own namespace ({o.namespace(vs)}); use `namespace/name` for another one.",)))
    return findings


@check("MD403", needs=("virtualservices", "gateways"))
def host_not_on_gateway(ctx: CheckContext) -> list[Problem]:
    """Judged per host of the VirtualService over all its gateways: a gateway builds virtual hosts only
    from the VirtualService hosts its servers admit (pilot/pkg/networking/core/gateway.go,
    buildGatewayHTTPRouteConfig: `host.NamesForNamespace(server.Hosts, virtualService.Namespace)` and the
    intersection with the VirtualService's hosts), so a VirtualService bound to two gateways that each
    serve part of its hosts serves every host; only a host no gateway of it admits is ignored."""
    bound: dict[int, tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {}
    for vs, ref in _gateway_users(ctx):
        gateway = _gateway(ctx, ref)
        if gateway is not None:
            bound.setdefault(id(vs), (vs, []))[1].append((ref, gateway))
    findings = []
    for vs, gateways in bound.values():
        servers = {ref: vss.server_hosts(gw) for ref, gw in gateways}
        declared = vss.declared_hosts(vs, ctx.settings.cluster_domain)
        unserved = [h for h in declared if not any(vss.admitted(s, o.namespace(vs), h) for s in servers.values())]
        if len(unserved) < len(declared) and vss.MESH in vss.vs_gateways(vs):
            continue  # a VirtualService for mesh and gateway lists mesh hosts the gateway need not serve
        refs = list(servers)
        listed = "; ".join(f"{ref}: {', '.join(f'{ns}/{h}' for ns, h in hosts_) or 'none'}"
                           for ref, hosts_ in servers.items())
        for host in unserved:
            elsewhere = [f"{ns}/{h}" for hosts_ in servers.values() for ns, h in hosts_
                         if vss.admitted([("*", h)], o.namespace(vs), host)]
            why = (f"serve it only to VirtualServices in the namespaces they name ({', '.join(elsewhere)}), not "
                   f"to {o.namespace(vs)}" if elsewhere else f"do not serve it (hosts: {listed})")
            findings.append(Problem(
                f"VirtualService {vss.vs_ref(vs)} declares host {host} on Gateway{'s' if len(refs) > 1 else ''} "
                f"{', '.join(refs)}, whose servers {why}; the gateway ignores this VirtualService for that host",
                ctx.target.host,
                (_vs_ref(vs, "host not served"), *(ResourceRef.at("Gateway", ref, "gateway") for ref in refs)),
                {"gateway": refs[0], "gateways": refs, "host": host,
                 "gatewayHosts": [f"{ns}/{h}" for hosts_ in servers.values() for ns, h in hosts_]},
                (f"Add {host} to a server of Gateway {refs[0]} (or `{o.namespace(vs)}/{host}`), or correct the host "
                 f"in {vss.vs_ref(vs)}.",)))
    return findings


def _selecting_gateways(ctx: CheckContext) -> list[tuple[str, dict[str, Any]]]:
    return selecting_gateways(ctx.snapshot, (ref for _, ref in _gateway_users(ctx)))


@reads("virtualservices", "gateways")
def _has_gateways(ctx: CheckContext) -> str | None:
    if _selecting_gateways(ctx):
        return None
    return f"no existing Gateway with a selector is bound to a VirtualService for {ctx.target.host}"


@check("MD404", needs=("gateways", "gatewaypods"), applies=_has_gateways)
def gateway_selects_no_pods(ctx: CheckContext) -> list[Problem]:
    findings = []
    for ref, gateway in _selecting_gateways(ctx):
        selector = service_selector(gateway)
        if any(o.selector_matches(selector, o.labels(p)) for p in ctx.snapshot.all("pods")):
            continue
        text = ",".join(f"{k}={v}" for k, v in selector.items())
        findings.append(Problem(f"Gateway {ref} selects pods labelled {text}, and no pod in the cluster has these "
            "labels: no proxy serves this gateway, so its hosts are not reachable from outside", ctx.target.host,
            (ResourceRef.at("Gateway", ref, "selects no pods"),), {"gateway": ref, "selector": selector},
            (f"Compare with the ingress gateway pods' labels: `kubectl get pods -A -l {text}` finds none; "
             "`kubectl get pods -A -l istio=ingressgateway --show-labels` shows the usual ones.",
             "Fix the Gateway's selector, or deploy the gateway it names.")))
    return findings
