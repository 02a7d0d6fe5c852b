"""Gateway API routes ("Route rules have no effect", in the API Istio now documents first).

The routes judged for a host are those that declare it as a hostname, send to its Services or attach
to them (mesh); the rules are mesh/gatewayapi.py's, each with its Istio and spec source.
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.base import check, reads
from kubectl_meshdoctor.checks.context import CannotTell, CheckContext
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh import gatewayapi as gw
from kubectl_meshdoctor.snapshot import objects as o

ROUTES = tuple(gw.ROUTE_COLLECTIONS.values())


@reads(*ROUTES)
def _has_routes(ctx: CheckContext) -> str | None:
    """A route CRD that is not installed reads as empty (cluster/resources.py none_unless_served)."""
    return None if ctx.gateway_routes else f"no Gateway API route names {ctx.target.host} or its Services"


def _route_ref(route: dict[str, Any], role: str) -> ResourceRef:
    return ResourceRef.of(o.kind(route), route, role)


def _parent_ref(parent: gw.ParentRef, role: str) -> ResourceRef:
    return ResourceRef(parent.kind, parent.namespace, parent.name, role)


@check("MD450", needs=(ROUTES, "k8sgateways"), applies=_has_routes, uses=("namespaces", "services", "gatewayclasses"))
def route_not_accepted(ctx: CheckContext) -> list[Problem]:
    """The controller's own verdict (a fresh Accepted condition) stands for the parents it judged, and a
    rejection is quoted; the model judges only the parents no controller has written status for yet
    (a new route, an offline world, a parent that does not exist)."""
    findings, unknown = [], []
    for route in ctx.gateway_routes:
        said: set[tuple[str, str, str]] = set()  # parents whose controller judged the route: its word stands
        for entry, cond in gw.status_verdicts(route):
            said.add(gw.status_key(entry, route))
            if cond.get("status") == "False":
                parent = gw.parent_ref(o.as_dict(entry.get("parentRef")), route)
                findings.append(_not_accepted(ctx, route, parent, o.as_str(cond.get("reason")),
                                              o.as_str(cond.get("message")), o.as_str(entry.get("controllerName"))))
        for parent in gw.parent_refs(route):
            if (parent.namespace, parent.name, parent.section) in said:
                continue
            attachment = gw.attach(ctx.snapshot, route, parent)
            if attachment.unknown:
                unknown.append(f"{o.kind(route)} {o.ref(route)} on {parent.describe()}: {attachment.unknown}")
            elif not attachment.attached:
                findings.append(_not_accepted(ctx, route, parent, attachment.reason, attachment.message, ""))
    if unknown and not findings:
        raise CannotTell("could not tell " + "; ".join(unknown))
    return findings


def _not_accepted(ctx: CheckContext, route: dict[str, Any], parent: gw.ParentRef, reason: str, message: str,
                  controller: str) -> Problem:
    names = gw.route_hostnames(route)
    effect = (f"Gateway {parent.namespace}/{parent.name} does not serve it: requests for "
              f"{', '.join(names) or 'its hostnames'} get 404 (no route) there" if parent.is_gateway else
              f"Mesh clients of Service {parent.namespace}/{parent.name} are not routed by it")
    said = f"{controller or 'the controller'} says Accepted=False ({reason}: {message})" if controller else \
        f"{reason}: {message}"
    return Problem(
        f"{o.kind(route)} {o.ref(route)} is not accepted by {parent.describe()}: {said}. {effect}",
        ctx.target.host, (_route_ref(route, "not accepted"), _parent_ref(parent, "parent")),
        {"route": o.ref(route), "kind": o.kind(route), "parent": parent.describe(), "reason": reason,
         "message": message, "from": "status" if controller else "model"},
        (_remedy(reason, route, parent),))


def _remedy(reason: str, route: dict[str, Any], parent: gw.ParentRef) -> str:
    if reason == gw.NO_MATCHING_HOSTNAME:
        return (f"Make a hostname of {o.ref(route)} match a listener hostname of {parent.namespace}/{parent.name} "
                "(or give the listener the route's hostname).")
    if reason == gw.NOT_ALLOWED:
        return (f"Let the listener admit it (`allowedRoutes.namespaces.from: All`, or a selector that matches "
                f"namespace {o.namespace(route)}; `allowedRoutes.kinds`), or move the route.")
    return (f"Fix the parentRef of {o.ref(route)} (`name`, `namespace`, `sectionName`, `port`) so that it names "
            f"an existing {parent.kind} and listener, or create it: `kubectl get {parent.kind.lower()} -n "
            f"{parent.namespace}`.")


@check("MD451", needs=(ROUTES, "services"), applies=_has_routes)
def backend_not_found(ctx: CheckContext) -> list[Problem]:
    """Both a missing Service and a missing port leave the route's cluster undefined; for a route with
    Gateway API semantics Istio sets `cluster_not_found_response_code: INTERNAL_SERVER_ERROR` (1.28
    pilot/pkg/networking/core/route/route.go), so Envoy answers 500 with response flag NC."""
    findings = []
    for route in ctx.gateway_routes:
        weights: dict[int, int] = {}
        for ref in gw.backend_refs(route):
            weights[ref.rule] = weights.get(ref.rule, 0) + ref.weight
        for ref in gw.backend_refs(route):
            if not ref.is_service:
                continue  # ServiceImport, Hostname, InferencePool: not judged
            total = weights[ref.rule]
            share = f"{ref.weight * 100 // total}% (weight {ref.weight} of {total})" if total and total != ref.weight \
                else "all"
            svc = ctx.snapshot.get("services", ref.namespace, ref.name)
            if svc is None:
                findings.append(Problem(
                    f"{o.kind(route)} {o.ref(route)} rule #{ref.rule} sends {share} of its requests to Service "
                    f"{ref.namespace}/{ref.name}, which does not exist: those requests are answered 500",
                    ctx.target.host, (_route_ref(route, "backend missing"),),
                    {"route": o.ref(route), "rule": ref.rule, "backend": ref.describe(), "weight": ref.weight,
                     "missing": "service"},
                    (f"Fix the backendRef `{ref.name}` (namespace {ref.namespace}) in rule #{ref.rule}, or create "
                     "the Service.",), port=ref.port))
                continue
            ports = [p.get("port") for p in map(o.as_dict, o.as_list(o.spec(svc).get("ports")))]
            if ref.port is not None and ref.port not in ports:
                findings.append(Problem(
                    f"{o.kind(route)} {o.ref(route)} rule #{ref.rule} sends {share} of its requests to port "
                    f"{ref.port} of Service {ref.namespace}/{ref.name}, which has no such port (it has "
                    f"{', '.join(str(p) for p in ports) or 'none'}): there is no cluster for it, and those "
                    "requests are answered 500 (NC)", ctx.target.host,
                    (_route_ref(route, "backend port missing"), ResourceRef.of("Service", svc, "backend")),
                    {"route": o.ref(route), "rule": ref.rule, "backend": ref.describe(), "weight": ref.weight,
                     "missing": "port", "servicePorts": ports},
                    (f"Use a port of the Service ({', '.join(str(p) for p in ports)}) in rule #{ref.rule}'s "
                     "backendRef.",), port=ref.port))
    return findings


@check("MD452", needs=(ROUTES, "referencegrants"), applies=_has_routes, uses=("k8sgateways", "gatewayclasses"))
def reference_grant_missing(ctx: CheckContext) -> list[Problem]:
    """Only for routes with a Gateway parent Istio serves: Istio converts mesh routes without enforcing
    grants, and another implementation's Gateway is its business."""
    findings, unknown = [], []
    gateways: dict[tuple[str, str], None] = {}
    for route in ctx.gateway_routes:
        served = {p: gw.served_by_istio(ctx.snapshot, p) for p in gw.parent_refs(route) if p.is_gateway}
        unknown += [f"{o.kind(route)} {o.ref(route)} on {p.describe()}: whether istiod programs it "
                    f"({ctx.snapshot.status('gatewayclasses').reason()})" for p, s in served.items() if s is None]
        parents = [p for p, s in served.items() if s]
        if not parents:
            continue
        gateways.update(((p.namespace, p.name), None) for p in parents)
        for ref in gw.backend_refs(route):
            if not ref.is_service or ref.namespace == o.namespace(route):
                continue
            if gw.granted(ctx.snapshot, o.kind(route), o.namespace(route), "Service", ref.namespace, ref.name):
                continue
            findings.append(Problem(
                f"{o.kind(route)} {o.ref(route)} (on {', '.join(p.describe() for p in parents)}) rule #{ref.rule} "
                f"sends traffic to Service {ref.namespace}/{ref.name} in another namespace, and no ReferenceGrant "
                f"in {ref.namespace} allows {o.kind(route)}s from {o.namespace(route)}: Istio treats the backend as "
                "invalid, so its share of the requests is answered 500", ctx.target.host,
                (_route_ref(route, "cross-namespace backend"),),
                {"route": o.ref(route), "rule": ref.rule, "backend": ref.describe(),
                 "from": {"kind": o.kind(route), "namespace": o.namespace(route)}},
                (_grant_yaml(ref.namespace, o.kind(route), o.namespace(route), "Service", ref.name),), port=ref.port))
    for ns, name in gateways:
        gateway = ctx.snapshot.get("k8sgateways", ns, name)
        for li in map(o.as_dict, o.as_list(o.spec(gateway).get("listeners")) if gateway else ()):
            for cert in map(o.as_dict, o.as_list(o.as_dict(li.get("tls")).get("certificateRefs"))):
                to_ns, to_name = o.as_str(cert.get("namespace")) or ns, o.as_str(cert.get("name"))
                if to_ns == ns or o.as_str(cert.get("kind") or "Secret") != "Secret" or \
                        gw.granted(ctx.snapshot, "Gateway", ns, "Secret", to_ns, to_name):
                    continue
                findings.append(Problem(
                    f"Gateway {ns}/{name} listener {o.as_str(li.get('name'))} uses Secret {to_ns}/{to_name} of another "
                    f"namespace, and no ReferenceGrant in {to_ns} allows Gateways from {ns}: Istio does not load the "
                    "certificate, so the listener cannot serve TLS", ctx.target.host,
                    (ResourceRef("Gateway", ns, name, "certificate in another namespace"),),
                    {"gateway": f"{ns}/{name}", "listener": o.as_str(li.get("name")), "secret": f"{to_ns}/{to_name}"},
                    (_grant_yaml(to_ns, "Gateway", ns, "Secret", to_name),)))
    if unknown and not findings:
        raise CannotTell("could not tell " + "; ".join(unknown))
    return findings


def _grant_yaml(namespace: str, from_kind: str, from_ns: str, to_kind: str, to_name: str) -> str:
    return (f"Allow it with a ReferenceGrant in {namespace}: `spec: {{from: [{{group: {gw.GROUP}, kind: {from_kind}, "
            f"namespace: {from_ns}}}], to: [{{group: \"\", kind: {to_kind}, name: {to_name}}}]}}`.")


@check("MD453", needs=(ROUTES, "k8sgateways"), applies=_has_routes, uses=("namespaces", "services", "gatewayclasses"))
def route_conflict(ctx: CheckContext) -> list[Problem]:
    """In each merged list (mesh/gatewayapi.py merged_routes), equal matches from different routes: the
    first in Istio's order (the oldest route) takes the requests."""
    findings = []
    unknown = [f"{o.kind(r)} {o.ref(r)} on {p.describe()}: {a.unknown}" for r in ctx.gateway_routes
               for p in gw.parent_refs(r) if (a := gw.attach(ctx.snapshot, r, p)).unknown]
    for merged in gw.merged_routes(ctx.snapshot, ctx.gateway_routes, ctx.settings.cluster_domain):
        by_match: dict[gw.Match, list[gw.RuleMatch]] = {}
        for entry in merged.matches:
            by_match.setdefault(entry.match, []).append(entry)
        for match, users in by_match.items():
            winner, losers = users[0], [u for u in users[1:] if u.route is not users[0].route]
            if not losers:
                continue
            shadowed = ", ".join(u.origin for u in losers)
            findings.append(Problem(
                f"On {merged.parent}, hostname {merged.hostname}: the match `{match.describe()}` is in "
                f"{winner.origin} and in {shadowed}. {o.ref(winner.route)} is the older route (created "
                f"{o.creation(winner.route) or 'at an unknown time'}), so its rule takes every such request and "
                f"{shadowed} never matches one", ctx.target.host,
                (_route_ref(winner.route, "in effect"), *(_route_ref(u.route, "never matches") for u in losers)),
                {"parent": merged.parent, "hostname": merged.hostname, "match": match.describe(),
                 "inEffect": winner.origin, "neverMatch": [u.origin for u in losers]},
                (f"Give {shadowed} a match {o.ref(winner.route)} does not have (another path, a header), or "
                 f"move its rule into {o.ref(winner.route)} in the order wanted.",)))
    if unknown and not findings:  # a route whose attachment is unknown may conflict unseen
        raise CannotTell("could not tell where " + "; ".join(unknown))
    return findings
