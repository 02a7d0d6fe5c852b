"""The Kubernetes Gateway API routes as Istio reads them: attachment, backends, grants, precedence.

Every rule here is Istio 1.28's (pilot/pkg/config/kube/gateway) over the Gateway API v1.4 spec
(kubernetes-sigs/gateway-api apis/v1):
- A parentRef defaults to group gateway.networking.k8s.io, kind Gateway, the route's namespace
  (apis/v1/shared_types.go ParentReference). A Service parent is mesh attachment (GAMMA).
- A route attaches to a Gateway's listener when, in this order (conversion.go referenceAllowed): the
  parentRef's port and sectionName name the listener; one route hostname and the listener hostname
  match each other (either may be a wildcard; none means any); the listener's allowedRoutes.namespaces
  admits the route's namespace (Same by default, All, or a namespace label Selector:
  conversion.go namespacesFromSelector); and its kinds admit the route's kind (by default HTTP/HTTPS
  listeners take HTTPRoute and GRPCRoute, TCP takes TCPRoute, TLS Passthrough TLSRoute and TLS
  Terminate TCPRoute: conditions.go generateSupportedKinds). The reasons are the status reasons Istio
  writes: NoMatchingParent, NoMatchingListenerHostname, NotAllowedByListeners.
- A backendRef defaults to a core Service in the route's namespace and needs a port
  (conversion.go buildDestination). A Service that does not exist makes the backend invalid; the spec
  makes requests for that backend's share of the weights answer 500 (apis/v1/httproute_types.go
  BackendRefs), which Istio does (isInvalidBackend).
- A backendRef into another namespace needs a ReferenceGrant there whose `from` names the route's
  kind and namespace and whose `to` names Service (and the name, when it gives one); Istio enforces it
  for Gateway parents only: mesh routes are converted with enforceRefGrant=false
  (route_collections.go: `convertHTTPRoute(ctx, r, obj, n, !mesh)`). The same holds for a Gateway
  listener's certificateRefs to Secrets of another namespace (conversion.go buildSecretReference).
- Routes of one Gateway and hostname are merged into one list: sorted by creation time, then
  namespace/name (route_collections.go mergeHTTPRoutes, sortRoutesByCreationTime), then stably by
  match specificity (conversion.go sortHTTPRoutes: Exact over Prefix over Regex, longer paths, a
  method, more headers, more query parameters). Two routes with the same match: the older one's rule
  comes first and takes every request; the other's never matches (the spec's tie-break,
  httproute_types.go Matches).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

GROUP = "gateway.networking.k8s.io"
ROUTE_COLLECTIONS = {"HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes", "TCPRoute": "tcproutes",
                     "TLSRoute": "tlsroutes"}
HTTP_KINDS = ("HTTPRoute", "GRPCRoute")
DEFAULT_KINDS = {"HTTP": HTTP_KINDS, "HTTPS": HTTP_KINDS, "TCP": ("TCPRoute",)}
# The classes istiod serves without a GatewayClass object, and its controllers' names (1.28
# pilot/pkg/config/kube/gateway/deploymentcontroller.go getBuiltinClasses; pkg/config/constants).
ISTIO_CLASSES = ("istio", "istio-waypoint", "istio-remote", "istio-east-west")
ISTIO_CONTROLLERS = ("istio.io/gateway-controller", "istio.io/mesh-controller", "istio.io/unmanaged-gateway",
                     "istio.io/eastwest-controller")
UNKNOWN = "unknown"  # a refusal that cannot be told: the data deciding it was not read
NO_MATCHING_PARENT, NO_MATCHING_HOSTNAME, NOT_ALLOWED = ("NoMatchingParent", "NoMatchingListenerHostname",
                                                          "NotAllowedByListeners")


def routes(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [r for key in ROUTE_COLLECTIONS.values() for r in snapshot.all(key)]


@dataclass(frozen=True)
class ParentRef:
    group: str
    kind: str
    namespace: str
    name: str
    section: str = ""
    port: int | None = None

    @property
    def is_gateway(self) -> bool:
        return self.group == GROUP and self.kind == "Gateway"

    @property
    def is_service(self) -> bool:
        return self.group in ("", "core") and self.kind == "Service"

    def describe(self) -> str:
        where = f"/{self.section}" if self.section else ""
        where += f":{self.port}" if self.port else ""
        return f"{self.kind} {self.namespace}/{self.name}{where}"


def parent_refs(route: dict[str, Any]) -> list[ParentRef]:
    return [parent_ref(o.as_dict(ref), route) for ref in o.as_list(o.spec(route).get("parentRefs"))]


def parent_ref(ref: dict[str, Any], route: dict[str, Any]) -> ParentRef:
    """A parentRef of the route's spec, or of a status entry, with the spec's defaults."""
    port = ref.get("port")
    return ParentRef(o.as_str(ref.get("group")) if "group" in ref else GROUP, o.as_str(ref.get("kind")) or "Gateway",
                     o.as_str(ref.get("namespace")) or o.namespace(route), o.as_str(ref.get("name")),
                     o.as_str(ref.get("sectionName")), port if isinstance(port, int) else None)


@dataclass(frozen=True)
class Listener:
    name: str
    port: int | None
    protocol: str
    hostname: str  # "" means any
    namespaces_from: str  # Same | All | Selector
    selector: dict[str, Any]
    kinds: tuple[str, ...]

    def describe(self) -> str:
        return f"listener {self.name} ({self.protocol} {self.port}{', ' + self.hostname if self.hostname else ''})"


def listeners(gateway: dict[str, Any]) -> list[Listener]:
    out = []
    for item in o.as_list(o.spec(gateway).get("listeners")):
        item = o.as_dict(item)
        protocol = o.as_str(item.get("protocol")).upper()
        allowed = o.as_dict(item.get("allowedRoutes"))
        namespaces = o.as_dict(allowed.get("namespaces"))
        tls_mode = o.as_str(o.as_dict(item.get("tls")).get("mode"))
        defaults = ("TLSRoute",) if protocol == "TLS" and tls_mode == "Passthrough" else \
            ("TCPRoute",) if protocol == "TLS" else DEFAULT_KINDS.get(protocol, ())
        asked = [o.as_str(o.as_dict(k).get("kind")) for k in o.as_list(allowed.get("kinds"))
                 if o.as_dict(k).get("group", GROUP) == GROUP]
        kinds = tuple(k for k in defaults if k in asked) if asked else defaults
        port = item.get("port")
        out.append(Listener(o.as_str(item.get("name")), port if isinstance(port, int) else None, protocol,
                            o.as_str(item.get("hostname")).lower(), o.as_str(namespaces.get("from")) or "Same",
                            o.as_dict(namespaces.get("selector")), kinds))
    return out


def route_hostnames(route: dict[str, Any]) -> list[str]:
    return [h.lower() for h in o.as_list(o.spec(route).get("hostnames")) if isinstance(h, str)]


def gateway_hostnames(route: dict[str, Any]) -> list[str]:
    """The hostnames a route declares for a Gateway (ingress hosts); a mesh-only route declares none."""
    return route_hostnames(route) if any(p.is_gateway for p in parent_refs(route)) else []


def hostnames_meet(a: str, b: str) -> bool:
    """Gateway API hostnames match both ways: either may be a `*.` wildcard (one or more labels)."""
    if not a or not b or a == b:
        return True
    return (a.startswith("*.") and b.endswith(a[1:])) or (b.startswith("*.") and a.endswith(b[1:]))


@dataclass(frozen=True)
class Attachment:
    """One parentRef of one route, judged: the listeners it attached to, or why none took it."""

    route: dict[str, Any]
    parent: ParentRef
    listeners: tuple[Listener, ...]
    reason: str = ""  # empty when attached
    message: str = ""
    unknown: str = ""  # the data that decides it could not be read: neither attached nor refused

    @property
    def attached(self) -> bool:
        return not self.reason


def attach(snapshot: Snapshot, route: dict[str, Any], parent: ParentRef) -> Attachment:
    if parent.is_service:
        if not snapshot.readable("services"):
            return Attachment(route, parent, (), unknown=f"whether parent Service {parent.namespace}/{parent.name} "
                              f"exists ({snapshot.status('services').reason()})")
        if snapshot.get("services", parent.namespace, parent.name) is None:
            return Attachment(route, parent, (), NO_MATCHING_PARENT, f"parent Service {parent.namespace}/"
                              f"{parent.name} does not exist")
        return Attachment(route, parent, ())
    if not parent.is_gateway:
        return Attachment(route, parent, ())  # another controller's parent (a ListenerSet...): not judged
    gateway = snapshot.get("k8sgateways", parent.namespace, parent.name)
    if gateway is None:
        return Attachment(route, parent, (), NO_MATCHING_PARENT,
                          f"Gateway {parent.namespace}/{parent.name} does not exist")
    serves = istio_serves(snapshot, gateway)
    if serves is None:
        return Attachment(route, parent, (), unknown=class_unknown(snapshot, gateway))
    if not serves:
        return Attachment(route, parent, ())  # another controller's Gateway: its rules are not judged here
    candidates = [li for li in listeners(gateway) if (parent.port is None or li.port == parent.port)
                  and (not parent.section or li.name == parent.section)]
    if not candidates:
        what = " and ".join(x for x in (f"named {parent.section}" if parent.section else "",
                                        f"on port {parent.port}" if parent.port else "") if x)
        return Attachment(route, parent, (), NO_MATCHING_PARENT,
                          f"Gateway {parent.namespace}/{parent.name} has no listener {what}".rstrip())
    verdicts = [(li, _refusal(snapshot, route, gateway, li)) for li in candidates]
    taken = tuple(li for li, why in verdicts if why is None)
    if taken:
        return Attachment(route, parent, taken)
    unread = [why[1] for _, why in verdicts if why and why[0] == UNKNOWN]
    if unread:
        return Attachment(route, parent, (), unknown="; ".join(dict.fromkeys(unread)))
    reason = NO_MATCHING_HOSTNAME if all(why and why[0] == NO_MATCHING_HOSTNAME for _, why in verdicts) \
        else NOT_ALLOWED
    return Attachment(route, parent, (), reason,
                      "; ".join(f"{li.describe()}: {why[1]}" for li, why in verdicts if why))


def class_unknown(snapshot: Snapshot, gateway: dict[str, Any]) -> str:
    return (f"whether istiod programs Gateway {o.ref(gateway)} of class "
            f"{o.as_str(o.spec(gateway).get('gatewayClassName'))} ({snapshot.status('gatewayclasses').reason()})")


def served_by_istio(snapshot: Snapshot, parent: ParentRef) -> bool | None:
    """For a Gateway parent: False when it exists and istiod does not program it (Istio's rules say
    nothing of it), None when that cannot be told, else True (a missing Gateway is judged as missing)."""
    gateway = snapshot.get("k8sgateways", parent.namespace, parent.name) if parent.is_gateway else None
    return True if gateway is None else istio_serves(snapshot, gateway)


def istio_serves(snapshot: Snapshot, gateway: dict[str, Any]) -> bool | None:
    """Whether istiod programs this Gateway: a built-in class, or a GatewayClass naming an Istio controller
    (a class without its GatewayClass object is another implementation's). None: the class is not a
    built-in one and the GatewayClasses could not be read."""
    name = o.as_str(o.spec(gateway).get("gatewayClassName"))
    if name in ISTIO_CLASSES:
        return True
    if not snapshot.readable("gatewayclasses"):
        return None
    klass = snapshot.get("gatewayclasses", "", name)
    return klass is not None and o.as_str(o.spec(klass).get("controllerName")) in ISTIO_CONTROLLERS


def _refusal(snapshot: Snapshot, route: dict[str, Any], gateway: dict[str, Any],
             listener: Listener) -> tuple[str, str] | None:
    """Why one listener does not take the route (Istio's order: hostname, namespace, kind), or None."""
    names = route_hostnames(route) or [""]
    if not any(hostnames_meet(h, listener.hostname) for h in names):
        return NO_MATCHING_HOSTNAME, (f"no hostname of the route ({', '.join(n or '*' for n in names)}) matches "
                                      f"{listener.hostname or '*'}")
    if listener.namespaces_from == "Selector" and not snapshot.readable("namespaces"):
        return UNKNOWN, (f"whether namespace {o.namespace(route)} matches {listener.describe()}'s selector "
                         f"({snapshot.status('namespaces').reason()})")
    if not _admits(listener, o.namespace(gateway), o.namespace(route),
                   snapshot.get("namespaces", "", o.namespace(route))):
        return NOT_ALLOWED, (f"namespace {o.namespace(route)} is not allowed "
                             f"({_admission(listener, o.namespace(gateway))})")
    if o.kind(route) not in listener.kinds:
        return NOT_ALLOWED, (f"kind {o.kind(route)} is not allowed (it takes "
                             f"{', '.join(listener.kinds) or 'no route kind'})")
    return None


def _admits(listener: Listener, gateway_ns: str, route_ns: str, namespace: dict[str, Any] | None) -> bool:
    if listener.namespaces_from == "All":
        return True
    if listener.namespaces_from == "Selector":
        labels = {**o.labels(namespace), "kubernetes.io/metadata.name": route_ns} if namespace else \
            {"kubernetes.io/metadata.name": route_ns}
        return o.label_selector_matches(listener.selector, labels)
    return route_ns == gateway_ns


def _admission(listener: Listener, gateway_ns: str) -> str:
    if listener.namespaces_from == "Selector":
        return f"it admits namespaces selected by {listener.selector}"
    return f"it admits routes from {gateway_ns} only: allowedRoutes.namespaces.from Same"


def status_verdicts(route: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(status parent entry, its Accepted condition) for each parent a controller has judged the route
    as it is now: a condition observed on an older generation (the spec changed since, and the
    controller has not caught up) is not the controller's word on this one."""
    generation = o.meta(route).get("generation")
    for parent in o.as_list(o.as_dict(route.get("status")).get("parents")):
        parent = o.as_dict(parent)
        for cond in o.as_list(parent.get("conditions")):
            cond = o.as_dict(cond)
            observed = cond.get("observedGeneration")
            stale = isinstance(observed, int) and isinstance(generation, int) and observed < generation
            if cond.get("type") == "Accepted" and cond.get("status") in ("True", "False") and not stale:
                yield parent, cond


def status_key(entry: dict[str, Any], route: dict[str, Any]) -> tuple[str, str, str]:
    """(namespace, name, sectionName) of the parent a status entry is about."""
    ref = parent_ref(o.as_dict(entry.get("parentRef")), route)
    return ref.namespace, ref.name, ref.section


def rejected_parents(route: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(namespace, name, sectionName) of the parents whose controller rejected the route."""
    return {status_key(entry, route) for entry, cond in status_verdicts(route) if cond.get("status") == "False"}


@dataclass(frozen=True)
class BackendRef:
    rule: int  # 1-based, as the report names rules
    group: str
    kind: str
    namespace: str
    name: str
    port: int | None
    weight: int

    @property
    def is_service(self) -> bool:
        return self.group in ("", "core") and self.kind == "Service"

    def host(self, domain: str) -> str:
        return hosts.service_fqdn(self.name, self.namespace, domain)

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}" + (f":{self.port}" if self.port else "")


def backend_refs(route: dict[str, Any]) -> list[BackendRef]:
    out = []
    for n, rule in enumerate(o.as_list(o.spec(route).get("rules")), 1):
        for ref in o.as_list(o.as_dict(rule).get("backendRefs")):
            ref = o.as_dict(ref)
            port, weight = ref.get("port"), ref.get("weight", 1)
            out.append(BackendRef(n, o.as_str(ref.get("group")), o.as_str(ref.get("kind")) or "Service",
                                  o.as_str(ref.get("namespace")) or o.namespace(route), o.as_str(ref.get("name")),
                                  port if isinstance(port, int) else None, weight if isinstance(weight, int) else 1))
    return out


def granted(snapshot: Snapshot, from_kind: str, from_ns: str, to_kind: str, to_ns: str, to_name: str) -> bool:
    """A ReferenceGrant in the target's namespace lets objects of `from_kind` in `from_ns` refer to it."""
    for grant in snapshot.in_namespace("referencegrants", to_ns):
        spec = o.spec(grant)
        froms = any(o.as_str(f.get("group")) == GROUP and o.as_str(f.get("kind")) == from_kind
                    and o.as_str(f.get("namespace")) == from_ns for f in map(o.as_dict, o.as_list(spec.get("from"))))
        tos = any(o.as_str(t.get("group")) in ("", "core") and o.as_str(t.get("kind")) == to_kind
                  and o.as_str(t.get("name")) in ("", to_name) for t in map(o.as_dict, o.as_list(spec.get("to"))))
        if froms and tos:
            return True
    return False


@dataclass(frozen=True)
class Match:
    """One match of a rule, normalised so that equal matches compare equal (defaults filled in)."""

    path: tuple[str, str]  # (type, value)
    method: str
    headers: tuple[tuple[str, str, str], ...]  # (type, lowercased name, value)
    query: tuple[tuple[str, str, str], ...]

    def rank(self) -> tuple[int, int, int, int, int]:
        """Istio's order (sortHTTPRoutes), most specific first when sorted descending."""
        kind = {"Exact": 3, "PathPrefix": 2, "RegularExpression": 1}.get(self.path[0], 0)
        return kind, len(self.path[1]), 1 if self.method else 0, len(self.headers), len(self.query)

    def describe(self) -> str:
        parts = [f"{self.path[0]} {self.path[1]}"] + ([f"method {self.method}"] if self.method else [])
        parts += [f"header {n} {v}" for _, n, v in self.headers] + [f"query {n}={v}" for _, n, v in self.query]
        return ", ".join(parts)


def rule_matches(route: dict[str, Any], rule: dict[str, Any]) -> list[Match]:
    out = []
    for m in o.as_list(rule.get("matches")) or [{}]:
        m = o.as_dict(m)
        if o.kind(route) == "GRPCRoute":
            path, verb = _grpc_path(o.as_dict(m.get("method"))), ""
        else:
            p = o.as_dict(m.get("path"))
            path = (o.as_str(p.get("type")) or "PathPrefix", o.as_str(p.get("value")) or "/")
            verb = o.as_str(m.get("method")).upper()
        out.append(Match(path, verb, _pairs(m.get("headers"), True), _pairs(m.get("queryParams"), False)))
    return out


def _grpc_path(method: dict[str, Any]) -> tuple[str, str]:
    """gRPC's /Service/Method as the URI match Istio makes of it (conversion.go createGRPCURIMatch)."""
    service, name = o.as_str(method.get("service")), o.as_str(method.get("method"))
    if not service and not name:
        return "PathPrefix", "/"
    if o.as_str(method.get("type")) == "RegularExpression":
        return "RegularExpression", f"/{service}/{name}" if service and name else \
            f"/{service}/.+" if service else f"/[^/]+/{name}"
    return ("Exact", f"/{service}/{name}") if service and name else ("PathPrefix", f"/{service}/") if service \
        else ("RegularExpression", f"/[^/]+/{name}")


def _pairs(items: Any, fold: bool) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((o.as_str(i.get("type")) or "Exact", o.as_str(i.get("name")).lower() if fold else
                         o.as_str(i.get("name")), o.as_str(i.get("value"))) for i in map(o.as_dict, o.as_list(items))))


def precedence(route: dict[str, Any]) -> tuple[str, str]:
    """Older first, then namespace/name: who wins a tie (the spec; Istio's sortRoutesByCreationTime,
    where a route without a timestamp has the zero time, so it sorts first)."""
    return o.creation(route), o.ref(route)


@dataclass(frozen=True)
class RouteIndex:
    """Once per snapshot: the routes by the hostnames they declare, the Services they send to and the
    Services they attach to (mesh), so that a scan's hosts each look up only their own."""

    by_hostname: dict[str, tuple[dict[str, Any], ...]]
    wildcard: tuple[tuple[str, dict[str, Any]], ...]  # (`*.suffix` or "" for none, route)
    by_service: dict[tuple[str, str], tuple[dict[str, Any], ...]]
    by_parent: dict[tuple[str, str, str], tuple[dict[str, Any], ...]]  # (kind, namespace, name)

    @classmethod
    def of(cls, snapshot: Snapshot) -> RouteIndex:
        return snapshot.derived("gatewayapi-routes", lambda: cls._build(snapshot))

    @classmethod
    def _build(cls, snapshot: Snapshot) -> RouteIndex:
        named: dict[str, list[dict[str, Any]]] = {}
        wildcard: list[tuple[str, dict[str, Any]]] = []
        by_service: dict[tuple[str, str], list[dict[str, Any]]] = {}
        by_parent: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for route in routes(snapshot):
            for p in dict.fromkeys((p.kind, p.namespace, p.name) for p in parent_refs(route)):
                by_parent.setdefault(p, []).append(route)
            for h in route_hostnames(route) or [""]:
                if h.startswith("*.") or not h:
                    wildcard.append((h, route))
                else:
                    named.setdefault(h, []).append(route)
            services = {(b.namespace, b.name) for b in backend_refs(route) if b.is_service}
            services |= {(p.namespace, p.name) for p in parent_refs(route) if p.is_service}
            for key in services:
                by_service.setdefault(key, []).append(route)
        return cls({k: tuple(v) for k, v in named.items()}, tuple(wildcard),
                   {k: tuple(v) for k, v in by_service.items()}, {k: tuple(v) for k, v in by_parent.items()})

    def sharing_parents(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every route attached to a parent one of `found` names: what Istio merges them with."""
        out = {id(r): r for r in found}
        for route in found:
            for p in parent_refs(route):
                out.update((id(r), r) for r in self.by_parent.get((p.kind, p.namespace, p.name), ()))
        return sorted(out.values(), key=precedence)

    def about_target(self, host: str, services: Iterable[Any]) -> list[dict[str, Any]]:
        """`about` for a host and its Services (ServiceName: .namespace, .name)."""
        return self.about(host, tuple((s.namespace, s.name) for s in services))

    def about(self, host: str, services: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
        """The routes that declare the host (by name or wildcard; a route without hostnames only when it
        is on a Gateway and also sends to the host's Services), send to its Services or attach to them."""
        found: dict[int, dict[str, Any]] = {}
        for route in self.by_hostname.get(host, ()):
            found[id(route)] = route
        for pattern, route in self.wildcard:
            if pattern and hostnames_meet(pattern, host):
                found[id(route)] = route
        for key in services:
            for route in self.by_service.get(key, ()):
                found[id(route)] = route
        return sorted(found.values(), key=precedence)


@dataclass(frozen=True)
class RuleMatch:
    match: Match
    route: dict[str, Any]
    rule: int  # 1-based
    backends: tuple[BackendRef, ...]

    @property
    def origin(self) -> str:
        return f"{o.kind(self.route)} {o.ref(self.route)} rule #{self.rule}"

    @property
    def catch_all(self) -> bool:
        return self.match.path == ("PathPrefix", "/") and not (self.match.method or self.match.headers
                                                                 or self.match.query)


@dataclass(frozen=True)
class MergedRoutes:
    """The HTTP/gRPC routes of one parent and hostname, in the order Istio gives the merged list."""

    parent: str  # "ns/name (Gateway API) listener ...", or "mesh (Gateway API): routes of NS attached to ..."
    hostname: str
    proxy_namespace: str  # the gateway's namespace; "" for mesh routes (the clients' sidecars)
    matches: tuple[RuleMatch, ...]

    @property
    def routes(self) -> tuple[dict[str, Any], ...]:
        return tuple({id(m.route): m.route for m in self.matches}.values())


def merged_routes(snapshot: Snapshot, found: list[dict[str, Any]], domain: str) -> list[MergedRoutes]:
    """The merged lists that hold one of `found`: routes grouped as Istio merges them (per Gateway
    listener and hostname; mesh routes per namespace and parent Service), ordered oldest route first and
    then by match specificity (mergeHTTPRoutes, sortHTTPRoutes)."""
    mine = {id(r) for r in found}
    groups: dict[tuple[str, str, str], list[RuleMatch]] = {}
    for route in RouteIndex.of(snapshot).sharing_parents(found):
        if o.kind(route) not in HTTP_KINDS:
            continue
        keys: dict[tuple[str, str, str], None] = {}
        rejected = rejected_parents(route)
        for parent in parent_refs(route):
            if (parent.namespace, parent.name, parent.section) in rejected:
                continue
            attachment = attach(snapshot, route, parent)
            if not attachment.attached:
                continue
            if parent.is_service:
                keys[(f"mesh (Gateway API): routes of {o.namespace(route)} attached to Service {parent.namespace}/"
                      f"{parent.name}", hosts.service_fqdn(parent.name, parent.namespace, domain), "")] = None
            for li in attachment.listeners:
                for h in route_hostnames(route) or [li.hostname or "*"]:
                    where = f"{parent.namespace}/{parent.name} (Gateway API) {li.describe()}"
                    keys[(where, h, parent.namespace)] = None
        backends = backend_refs(route)
        for n, rule in enumerate(o.as_list(o.spec(route).get("rules")), 1):
            for match in rule_matches(route, o.as_dict(rule)):
                for key in keys:
                    groups.setdefault(key, []).append(
                        RuleMatch(match, route, n, tuple(b for b in backends if b.rule == n)))
    out = []
    for (where, hostname, namespace), entries in groups.items():
        if not mine & {id(e.route) for e in entries}:
            continue
        ordered = sorted(entries, key=lambda e: precedence(e.route))  # stable: rules keep their order
        ordered.sort(key=lambda e: e.match.rank(), reverse=True)
        out.append(MergedRoutes(where, hostname, namespace, tuple(ordered)))
    return out


def mesh_overlap_notes(found: list[dict[str, Any]], host: str, services: Iterable[Any],
                       mesh_virtualservices: list[str]) -> list[str]:
    """A host routed for sidecars both by VirtualServices and by mesh routes (HTTPRoutes on its Service):
    istiod turns each mesh route into a VirtualService for the host, and a sidecar uses one VirtualService
    per host, never merging them. Which one: SelectVirtualServices (Istio 1.28 pilot/pkg/model/
    virtualservice.go, PILOT_UNIFIED_SIDECAR_SCOPE on by default) takes, in each visibility tier, the
    Gateway API routes of the client's own namespace first, then the rest in creation order."""
    wanted = {(s.namespace, s.name) for s in services}
    mesh_routes = [r for r in found if any(p.is_service and (p.namespace, p.name) in wanted for p in parent_refs(r))]
    if not mesh_routes or not mesh_virtualservices:
        return []
    namespaces = sorted({o.namespace(r) for r in mesh_routes})
    routes_text = ", ".join(f"{o.kind(r)} {o.ref(r)}" for r in mesh_routes)
    return [f"{host} is routed for sidecars by VirtualService {', '.join(mesh_virtualservices)} and by the mesh "
            f"routes {routes_text}; sidecars never merge the two: clients in {', '.join(namespaces)} use their "
            "namespace's routes (Istio puts a namespace's own Gateway API routes first), other clients the "
            "oldest of them all. Keep one API per host."]


def gateway_parents(snapshot: Snapshot, host: str, services: Iterable[Any]) -> list[tuple[str, str]]:
    """(namespace, name) of the existing Gateway API Gateways the host's routes name: their proxies
    (pods labelled gateway.networking.k8s.io/gateway-name by Istio's deployment controller) carry the
    host's ingress traffic and log its failures."""
    return gateway_parents_of(snapshot, RouteIndex.of(snapshot).about_target(host, services))


def gateway_parents_of(snapshot: Snapshot, found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    parents = {(p.namespace, p.name): None for r in found for p in parent_refs(r) if p.is_gateway}
    return [key for key in parents if (gateway := snapshot.get("k8sgateways", *key)) is not None
            and istio_serves(snapshot, gateway)]
