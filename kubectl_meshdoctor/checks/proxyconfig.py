"""Predicted vs actual: the model's clusters, upstream TLS and route sources for the host, against the
configuration a client proxy really holds (`--config-dump`, mesh/configdump.py). A disagreement is either
stale configuration (the proxy has not received istiod's latest push) or a rule the model does not know;
both mean the model's other findings for that proxy are unconfirmed.

Istio's cluster names are `outbound|PORT|SUBSET|HOST`, one per Service port and one per port and subset of
the DestinationRule in effect for the proxy (1.28 pilot/pkg/networking/core/cluster.go
buildOutboundClusters; model.BuildSubsetKey).
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.base import check, reads
from kubectl_meshdoctor.checks.context import CannotTell, CheckContext, NothingToJudge
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.checks.reconfiguration import read_syncz, sync_verdicts
from kubectl_meshdoctor.mesh import configdump as cd
from kubectl_meshdoctor.mesh import gatewayapi
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.ambient import GATEWAY_NAME
from kubectl_meshdoctor.mesh.protocol import derive
from kubectl_meshdoctor.mesh.target import target_services
from kubectl_meshdoctor.mesh.tls import ClientMode
from kubectl_meshdoctor.mesh.workloads import container_port, gateway_proxies
from kubectl_meshdoctor.snapshot import objects as o

STALE = ("Likely cause: the proxy has not received istiod's latest configuration (compare `istioctl proxy-status`; "
         "restart the pod if it stays STALE), or a rule this tool does not model; until that is settled the other "
         "findings for this proxy are unconfirmed.")


def cause(ctx: CheckContext, dump: cd.ProxyConfig) -> str:
    """The likely cause of a difference, from what was read: istiod's current configuration for the same
    proxy (held == generated: not staleness) and the proxy's sync state in istiod's /debug/syncz."""
    sync = sync_state(ctx, dump)
    said = f" istiod's syncz says {sync}." if sync else ""
    stale = dump.stale_for(ctx.target.host)
    istiod = dump.generated.source if dump.generated is not None else ""
    if stale is True:
        return (f"Cause: stale configuration. istiod now generates something else for this proxy ({istiod}), which "
                f"it has not received or not accepted.{said} Look for 'rejected' in the proxy's log; restart the pod "
                "if it stays behind.")
    if stale is False:
        return (f"Cause: not staleness: istiod generates exactly this for the proxy ({istiod}).{said} So the model "
                "is wrong here: a rule this tool does not model; the other findings for this proxy are unconfirmed. "
                "Please report the dump and the objects.")
    if sync and "STALE" not in sync and "NOT SENT" not in sync and "ERROR" not in sync:
        return (f"Likely cause: a rule this tool does not model: the proxy is in sync with istiod ({sync}); the other "
                "findings for this proxy are unconfirmed.")
    return f"{STALE}{said}"


def sync_state(ctx: CheckContext, dump: cd.ProxyConfig) -> str:
    """'CDS SYNCED, LDS SYNCED, RDS STALE, EDS SYNCED (istiod NS/POD)', or '' when syncz was not read."""
    proxy = f"{dump.pod}.{dump.namespace}"
    for answer in ctx.evidence.syncz:
        entries = read_syncz(answer)
        for entry in entries if isinstance(entries, list) else []:
            if str(entry.get("proxy")) == proxy:
                verdicts = sync_verdicts(entry)
                return f"{', '.join(f'{t} {v}' for t, v in verdicts.items())} (istiod {answer.namespace}/{answer.pod})"
    return ""


@reads("proxyconfigs")  # with --probe: whether istiod could be asked (denied: the checks are skipped, with why)
def has_proxy_configs(ctx: CheckContext) -> str | None:
    if not ctx.evidence.proxy_configs:
        return ("no proxy's configuration could be read (the notes say why)" if ctx.evidence.probed
                else "no proxy configuration to compare with (give --config-dump FILE, or --probe)")
    return None


def _ports(ctx: CheckContext) -> list[int]:
    ports = [o.as_dict(p).get("port") for svc in target_services(ctx.snapshot, ctx.target)
             for p in o.as_list(o.spec(svc).get("ports"))]
    return sorted({p for p in ports if isinstance(p, int)})


def _sync_hint(dump: cd.ProxyConfig) -> str:
    return f"Check the proxy's sync state: `istioctl proxy-status {dump.pod}.{dump.namespace}`."


def _dump_ref(dump: cd.ProxyConfig) -> ResourceRef:
    return ResourceRef("Pod", dump.namespace, dump.pod, f"proxy configuration ({dump.source})")


def predicted_clusters(ctx: CheckContext, client_ns: str, gateway: bool = False) -> dict[str, str]:
    """cluster name -> why it must exist, for the proxies of one client namespace (or a gateway's proxies
    in that namespace: a gateway is not limited by Sidecar resources and uses the DestinationRules
    visible from its namespace)."""
    host, service_ns = ctx.target.host, ctx.target.service_namespace
    if not gateway and not ctx.routing.sidecar_scope(client_ns).imports_host(host, service_ns or ""):
        return {}
    merged = ctx.routing.lookup_for(client_ns, host, service_ns, gateway=gateway).merged
    subsets = [s.name for s in merged.subsets] if merged else []
    out = {}
    for port in _ports(ctx):
        out[f"outbound|{port}||{host}"] = f"Service port {port}"
        for subset in subsets:
            out[f"outbound|{port}|{subset}|{host}"] = f"subset {subset} of the DestinationRule in effect"
    return out


def routed_clusters(dump: cd.ProxyConfig, host: str) -> dict[str, str]:
    """The host's clusters the proxy's own routes send to: each must exist there, whatever the model says."""
    out: dict[str, str] = {}
    for vhost, routes in sorted(dump.virtual_hosts.items()):
        for route in routes:
            for cluster in route.clusters:
                if cd.host_cluster(cluster, host):
                    out.setdefault(cluster, f"its route {route.name or route.match} of virtual host {vhost} "
                                            "sends there")
    return out


def is_gateway(ctx: CheckContext, dump: cd.ProxyConfig) -> bool:
    return (dump.namespace, dump.pod) in ctx.routing.gateway_pods


@check("MD801", needs=("services",), needs_istio=True, applies=has_proxy_configs, uses=("destinationrules",))
def proxy_missing_cluster(ctx: CheckContext) -> list[Problem]:
    findings, compared = [], False
    for dump in ctx.evidence.proxy_configs:
        gateway = is_gateway(ctx, dump)
        predicted = {**predicted_clusters(ctx, dump.namespace, gateway), **routed_clusters(dump, ctx.target.host)}
        compared = compared or bool(predicted)
        missing = {name: why for name, why in predicted.items() if name not in dump.clusters}
        if not missing:
            continue
        actual = dump.clusters_for(ctx.target.host)
        findings.append(Problem(
            f"The {'gateway ' if gateway else ''}proxy of {dump.ref} has no cluster {', '.join(missing)} although "
            f"{'they' if len(missing) > 1 else 'it'} must exist "
            f"({'; '.join(f'{n}: {w}' for n, w in missing.items())}); it holds "
            f"{', '.join(actual) or 'no cluster for the host'}. Requests it routes there fail with 503 NC "
            f"(500 on a Gateway API gateway). {cause(ctx, dump)}",
            ctx.target.host, (_dump_ref(dump),),
            {"proxy": dump.ref, "file": dump.source, "predicted": sorted(predicted), "actual": actual,
             "missing": sorted(missing), "role": "gateway" if gateway else "client"},
            (_sync_hint(dump),
             "If it is SYNCED, the model is wrong for this proxy: report the dump and the objects."),
            client_namespace=None if gateway else dump.namespace))
    return _judged(findings, compared, "no proxy given imports the host (no cluster for it is predicted)")


def _judged(findings: list[Problem], compared: bool, why_nothing: str) -> list[Problem]:
    """A comparison that found nothing to compare is not a pass."""
    if not compared:
        raise NothingToJudge(f"nothing to compare: {why_nothing}")
    return findings


def expected_tls(mode: ClientMode) -> str:
    if mode.explicit is None:
        return cd.AUTO if mode.auto else cd.PLAINTEXT
    return {"ISTIO_MUTUAL": cd.ISTIO_MUTUAL, "DISABLE": cd.PLAINTEXT}.get(mode.explicit, cd.TLS)


@check("MD803", needs=("services", "destinationrules"), applies=has_proxy_configs, uses=("peerauthentications",))
def proxy_tls_differs(ctx: CheckContext) -> list[Problem]:
    findings, compared = [], False
    by_ns: dict[str, list[Any]] = {}
    for row in ctx.tls_rows:
        by_ns.setdefault(row.client_ns, []).append(row)
    for dump in ctx.evidence.proxy_configs:
        for row in by_ns.get(dump.namespace, []):
            port = row.port.get("port")
            cluster = f"outbound|{port}|{row.subset}|{row.host}"
            actual = dump.clusters.get(cluster)
            predicted = expected_tls(row.client)
            compared = compared or actual is not None
            if actual is None or actual == predicted:
                continue  # a missing cluster is MD801's
            decided = ", ".join(row.client.deciders) or "no DestinationRule tls setting (auto mTLS)"
            findings.append(Problem(
                f"The proxy of {dump.ref} sends {actual} on {cluster}; the model predicts {predicted} (decided by "
                f"{decided}). {cause(ctx, dump)}", ctx.target.host, (_dump_ref(dump),),
                {"proxy": dump.ref, "file": dump.source, "cluster": cluster, "predicted": predicted, "actual": actual},
                (_sync_hint(dump),),
                port=port if isinstance(port, int) else None, subset=row.subset or None,
                client_namespace=dump.namespace))
    return _judged(findings, compared, "no proxy given is a client the TLS model has a cluster of the host for")


@check("MD802", needs=("virtualservices",), applies=has_proxy_configs, uses=("httproutes", "grpcroutes"))
def proxy_route_differs(ctx: CheckContext) -> list[Problem]:
    """The routes of the host's virtual host (`HOST:PORT`): which configuration produced them (Istio's
    route metadata), then, when that agrees, their order and names up to the first catch-all."""
    findings, compared, untold = [], False, []
    gamma = _mesh_routes(ctx)
    for dump in ctx.evidence.proxy_configs:
        if is_gateway(ctx, dump):
            problem, judged = _gateway_sources_differ(ctx, dump)
            compared = compared or judged
            findings += [problem] if problem is not None else []
            continue
        winner = ctx.routing.selection_for(dump.namespace, ctx.target.host).winner
        if winner is not None and gamma:
            continue  # both APIs route the host for sidecars: the model does not pick (a note says so)
        predicted = sorted(gamma) if gamma else [winner.ref] if winner else []
        for port in _ports(ctx):
            routes = dump.virtual_hosts.get(f"{ctx.target.host}:{port}")
            if routes is None:
                continue  # a TCP port, or a host the proxy does not import: no virtual host to compare
            compared = True
            problem = _sources_differ(ctx, dump, port, routes, predicted, bool(gamma))
            if problem is None and winner is not None:
                problem, why = _order_differs(ctx, dump, port, routes, winner.vs)
                untold += [why] if why else []
            if problem is not None:
                findings.append(problem)
    if untold and not findings:  # an order not judged is not a pass
        raise CannotTell("; ".join(dict.fromkeys(untold)))
    return _judged(findings, compared, "no proxy given has a virtual host for the host's ports")


def _gateway_sources_differ(ctx: CheckContext, dump: cd.ProxyConfig) -> tuple[Problem | None, bool]:
    """A gateway proxy: which configuration produced its routes to the host, in any virtual host, against
    the VirtualServices bound to the Gateways selecting it whose routes reach the host (after the merge and
    its catch-all cut-off: RoutingModel.routed_destinations) and the Gateway API routes attached to its
    Gateway with a backend on the host. (Whether judged, the problem.)"""
    host, key = ctx.target.host, (dump.namespace, dump.pod)
    routing = {d.gateway for d in ctx.routing.routed_destinations if d.gateway != vss.MESH}
    selecting = {g for g in routing  # those of the Istio Gateways routing to the host that pick this proxy
                 if key in {(o.namespace(p), o.name(p)) for p in gateway_proxies(ctx.snapshot, [g])}}
    predicted = {(False, vss.vs_ref(d.vs)) for d in ctx.routing.routed_destinations
                 if d.kind == "http" and d.gateway in selecting and d.client_ns == dump.namespace}
    pod = ctx.routing.gateway_pods[key]
    for route in ctx.gateway_routes:
        if o.kind(route) not in ("HTTPRoute", "GRPCRoute") or not any(
                b.is_service and b.host(ctx.routing.domain) == host for b in gatewayapi.backend_refs(route)):
            continue
        for parent in gatewayapi.parent_refs(route):
            if parent.is_gateway and parent.namespace == dump.namespace and \
                    o.label(pod, GATEWAY_NAME) == parent.name and \
                    gatewayapi.attach(ctx.snapshot, route, parent).attached:
                predicted.add((True, o.ref(route)))
    held = [r for routes in dump.virtual_hosts.values() for r in routes if r.sends_to(host)]
    actual = {(r.generated, r.source) for r in held if r.source}
    if not predicted and not held:
        return None, False
    if actual == predicted:
        return None, True
    return Problem(
        f"The gateway proxy {dump.ref} routes to {host} by {said(actual) or 'no route at all'}; the model predicts "
        f"{said(predicted) or 'no route to it'}. {cause(ctx, dump)}", host, (_dump_ref(dump),),
        {"proxy": dump.ref, "file": dump.source, "role": "gateway", "predicted": said(predicted),
         "actual": sorted(ref for _, ref in actual), "routes": _route_rows(tuple(held))},
        (_sync_hint(dump),)), True


def said(found: set[tuple[bool, str]]) -> str:
    return ", ".join(f"{'Gateway API route' if generated else 'VirtualService'} {ref}"
                     for generated, ref in sorted(found))


def _mesh_routes(ctx: CheckContext) -> set[str]:
    """ns/name of the Gateway API routes attached to the host's Services (mesh routing, GAMMA)."""
    wanted = {(s.namespace, s.name) for s in ctx.target.services}
    return {o.ref(r) for r in ctx.gateway_routes
            if any(p.is_service and (p.namespace, p.name) in wanted for p in gatewayapi.parent_refs(r))}


def _route_rows(routes: tuple[cd.DumpRoute, ...]) -> list[dict[str, Any]]:
    return [{"name": r.name, "match": r.match, "clusters": list(r.clusters), "from": r.origin} for r in routes]


def _sources_differ(ctx: CheckContext, dump: cd.ProxyConfig, port: int, routes: tuple[cd.DumpRoute, ...],
                    predicted: list[str], gamma: bool) -> Problem | None:
    actual = sorted({r.source for r in routes if r.source})
    kinds = {r.generated for r in routes if r.source}
    if kinds <= {gamma} and (set(actual) <= set(predicted) and bool(actual) == bool(predicted) if gamma
                             else actual == predicted):
        return None
    kind = "Gateway API route" if gamma else "VirtualService"
    origins = sorted({r.origin for r in routes if r.source}) or ["no VirtualService (the default route)"]
    return Problem(
        f"The proxy of {dump.ref} routes {ctx.target.host}:{port} by {', '.join(origins)}; the model predicts "
        f"{f'{kind} ' + ', '.join(predicted) if predicted else 'the default route'}. {cause(ctx, dump)}",
        ctx.target.host, (_dump_ref(dump),),
        {"proxy": dump.ref, "file": dump.source, "virtualHost": f"{ctx.target.host}:{port}",
         "predicted": predicted[0] if len(predicted) == 1 else ", ".join(predicted), "actual": actual,
         "routes": _route_rows(routes)},
        (_sync_hint(dump),), port=port, client_namespace=dump.namespace)


def _order_differs(ctx: CheckContext, dump: cd.ProxyConfig, port: int, routes: tuple[cd.DumpRoute, ...],
                   vs: dict[str, Any]) -> tuple[Problem | None, str]:
    """Istio emits one route per match entry in rule order and stops after the first catch-all (1.28
    route.go BuildHTTPRoutesForVirtualService); entries for another port, or whose sourceLabels or
    sourceNamespace do not fit this proxy, are dropped for it. Delegated routes' names are Istio's merge
    of root and child names and are compared by position only. (The problem, or why the order could not
    be judged.)"""
    pod = ctx.snapshot.get("pods", dump.namespace, dump.pod)
    conds = [o.as_dict(m) for r in o.as_list(o.spec(vs).get("http")) for m in o.as_list(o.as_dict(r).get("match"))]
    if pod is None and any(o.as_dict(c).get("sourceLabels") for c in conds):
        return None, (f"the route order of {dump.ref} for {ctx.target.host}:{port} could not be judged: VirtualService "
                      f"{vss.vs_ref(vs)} selects routes by sourceLabels and the pod was not read")
    facts = vss.ProxyFacts(port, o.labels(pod) if pod is not None else {}, dump.namespace)
    predicted, _ = vss.routes_for(vs, vss.MESH, ctx.routing.domain, ctx.routing.delegates, facts)
    names = [None if r.delegate is not None else route_name(r) for r in predicted]
    held = [r.name for r in routes]
    if len(names) == len(held) and all(n is None or n == h for n, h in zip(names, held, strict=True)):
        return None, ""
    at = next((i for i, (n, h) in enumerate(zip(names, held, strict=False)) if n is not None and n != h),
              min(len(names), len(held)))
    if at < min(len(names), len(held)):
        where = (f"route {at + 1} is {_shown(held[at])} on the proxy, {predicted[at].origin} match "
                 f"{_entry(predicted[at])} ({_shown(names[at] or '')}) in the model")
    elif len(held) > len(names):
        cut = predicted[-1] if predicted else None
        where = (f"the proxy holds {len(held) - len(names)} route(s) after "
                 + (f"{cut.origin} match {_entry(cut)}, the catch-all where the model stops" if cut and cut.catch_all
                    else "the last one the model predicts"))
    else:
        where = f"the proxy lacks {predicted[at].origin} match {_entry(predicted[at])} and what follows it"
    return Problem(
        f"The proxy of {dump.ref} holds {len(held)} route(s) for {ctx.target.host}:{port}; the model predicts "
        f"{len(names)} from VirtualService {vss.vs_ref(vs)}: {where}. {cause(ctx, dump)}",
        ctx.target.host, (_dump_ref(dump), ResourceRef.of("VirtualService", vs, "spec.http")),
        {"proxy": dump.ref, "file": dump.source, "virtualHost": f"{ctx.target.host}:{port}",
         "predicted": [{"name": n, "from": r.origin, "catchAll": r.catch_all} for n, r in zip(names, predicted,
                                                                                              strict=True)],
         "actual": held, "routes": _route_rows(routes)},
        (_sync_hint(dump),), port=port, client_namespace=dump.namespace), ""


def route_name(route: vss.HttpRoute) -> str:
    """Istio's Envoy route name: the rule's `name`, then `.` and the match entry's `name` when it has one."""
    rule = o.as_dict(o.as_list(o.spec(route.vs).get("http"))[route.rule])
    match = o.as_str(route.conditions.get("name")) if route.match is not None else ""
    return o.as_str(rule.get("name")) + (f".{match}" if match else "")


def _entry(route: vss.HttpRoute) -> str:
    return "(none)" if route.match is None else f"#{route.match + 1}"


def _shown(name: str) -> str:
    return f"route `{name}`" if name else "an unnamed route"


@check("MD805", needs=("services",), applies=has_proxy_configs)
def proxy_protocol_differs(ctx: CheckContext) -> list[Problem]:
    """HTTP or TCP, as the proxy handles HOST:PORT (a virtual host in its routes, or a tcp_proxy to the
    port's cluster), against the protocol the model derives for the port (mesh/protocol.py); a port
    left to sniffing has both and is not judged."""
    findings, compared = [], False
    for svc in target_services(ctx.snapshot, ctx.target):
        for port in map(o.as_dict, o.as_list(o.spec(svc).get("ports"))):
            number, derived = port.get("port"), derive(port, ctx.settings.version)
            if not isinstance(number, int) or derived.sniffed:
                continue
            predicted = "HTTP" if derived.http_like else "TCP"
            for dump in ctx.evidence.proxy_configs:
                http = f"{ctx.target.host}:{number}" in dump.virtual_hosts
                tcp = f"outbound|{number}||{ctx.target.host}" in dump.tcp_clusters
                actual = "HTTP" if http and not tcp else "TCP" if tcp and not http else ""
                compared = compared or bool(actual)
                if not actual or actual == predicted:
                    continue  # not seen (not imported, or both: sniffing), or agreeing
                findings.append(Problem(
                    f"The proxy of {dump.ref} handles {ctx.target.host}:{number} as {actual}; the model derives "
                    f"{derived.protocol} ({derived.reason}), so it predicts {predicted}. {cause(ctx, dump)}",
                    ctx.target.host,
                    (_dump_ref(dump), ResourceRef.of("Service", svc, "port")),
                    {"proxy": dump.ref, "file": dump.source, "predicted": predicted, "actual": actual,
                     "derived": derived.protocol},
                    (_sync_hint(dump),),
                    port=number, client_namespace=dump.namespace))
    return _judged(findings, compared, "no proxy given handles a declared (not sniffed) port of the host")


@check("MD804", needs=("services", "pods"), applies=has_proxy_configs, uses=("peerauthentications", "policies"))
def proxy_inbound_mtls_differs(ctx: CheckContext) -> list[Problem]:
    """For a dump of one of the host's own pods: the inbound chains of each pod port (the Service port's
    targetPort) against the server mode the model gives that pod (the TLS rows' endpoints)."""
    dumps = {(d.namespace, d.pod): d for d in ctx.evidence.proxy_configs}
    findings, compared = [], False
    seen: set[tuple[str, int]] = set()
    for row in ctx.tls_rows:
        for endpoint in row.endpoints:
            dump = dumps.get((o.namespace(endpoint.pod), o.name(endpoint.pod)))
            predicted = endpoint.server.mode
            port = container_port(endpoint.pod, row.port)
            if dump is None or port is None or predicted not in ("STRICT", "PERMISSIVE", "DISABLE") or \
                    (dump.ref, port) in seen:
                continue
            seen.add((dump.ref, port))
            actual = dump.inbound_mode(port)
            compared = compared or bool(actual)
            if not actual or actual == predicted:
                continue
            findings.append(Problem(
                f"The proxy of {dump.ref} accepts {actual} on pod port {port} (its inbound filter chains); the "
                f"model predicts {predicted} (decided by {endpoint.server.label()}). {cause(ctx, dump)}",
                ctx.target.host,
                (_dump_ref(dump),), {"proxy": dump.ref, "file": dump.source, "podPort": port,
                                      "predicted": predicted, "actual": actual},
                (_sync_hint(dump),),
                port=row.port.get("port") if isinstance(row.port.get("port"), int) else None))
    return _judged(findings, compared, "no proxy given is one of the host's own pods with inbound chains for its ports")
