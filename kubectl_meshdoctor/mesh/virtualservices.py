"""VirtualServices as Istio turns them into Envoy routes (ISTIO-SEMANTICS.md §B).

Sidecars use exactly one VirtualService per host: the first visible one in (private, exported,
public) x creation-time order; the others are dropped. Gateways append the routes of every fragment
for the host in that same order and then move catch-all routes to the end. Inside one VirtualService,
routes stop at the first catch-all rule.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.visibility import creation_order, visibility_class
from kubectl_meshdoctor.snapshot import objects as o

MESH = "mesh"
# Match fields Envoy evaluates as header matchers: a route with any of them is not a catch-all.
HEADER_LIKE = ("headers", "withoutHeaders", "queryParams", "method", "authority", "scheme")


def normalize_gateway(ref: str, vs_namespace: str) -> str:
    """`mesh`, `name`, `./name`, `ns/name`, legacy `name.ns.svc.<domain>` -> `mesh` or `ns/name`."""
    if ref == MESH:
        return MESH
    if "/" in ref:
        ns, _, name = ref.partition("/")
        return f"{vs_namespace if ns in ('.', '') else ns}/{name}"
    if "." in ref:
        name, ns = ref.split(".")[:2]
        return f"{ns}/{name}"
    return f"{vs_namespace}/{ref}"


def vs_gateways(vs: dict[str, Any]) -> tuple[str, ...]:
    """Asked for every candidate VirtualService of every host: kept per distinct (gateways, namespace)."""
    refs = o.as_list(o.spec(vs).get("gateways"))
    return _gateways(tuple(g for g in refs if isinstance(g, str) and g), o.namespace(vs))


@functools.lru_cache(maxsize=4096)
def _gateways(refs: tuple[str, ...], namespace: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize_gateway(g, namespace) for g in refs)) or (MESH,)


def declared_hosts(vs: dict[str, Any], domain: str) -> list[str]:
    return [hosts.resolve(h, o.namespace(vs), domain) for h in o.as_list(o.spec(vs).get("hosts"))
            if isinstance(h, str) and h]


def best_pattern(patterns: Iterable[str], host: str) -> str | None:
    """The pattern Envoy's domain matching picks for `host`: the exact name, else the longest wildcard."""
    matching = [p for p in patterns if p == host or hosts.wildcard_matches(p, host)]
    if not matching:
        return None
    return max(matching, key=lambda p: (p == host, len(p)))


def vs_ref(vs: dict[str, Any]) -> str:
    return o.ref(vs)


# ------------------------------------------------------------------------------------------ routes

@dataclass(frozen=True)
class Destination:
    host: str
    subset: str = ""
    port: int | None = None
    weight: int | None = None

    def describe(self) -> str:
        subset = f" subset {self.subset}" if self.subset else ""
        port = f":{self.port}" if self.port else ""
        weight = f" ({self.weight}%)" if self.weight is not None else ""
        return f"{self.host}{port}{subset}{weight}"


@dataclass(frozen=True, eq=False)
class HttpRoute:
    """One Envoy route: rule `rule` (0-based) of a VirtualService, match entry `match` (None: no match)."""

    vs: dict[str, Any] = field(repr=False)
    rule: int
    match: int | None
    catch_all: bool
    conditions: dict[str, Any]
    destinations: tuple[Destination, ...]
    delegate: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        via = f" via delegate {vs_ref(self.delegate)}" if self.delegate is not None else ""
        return f"VirtualService {vs_ref(self.vs)} rule #{self.rule + 1}{via}"

    def describe(self) -> str:
        return describe_match(self.conditions)


def describe_match(cond: dict[str, Any]) -> str:
    parts = []
    uri = o.as_dict(cond.get("uri"))
    for kind, value in uri.items():
        if kind in ("prefix", "exact", "regex"):
            parts.append(f"uri {kind} {value}")
    parts += [f"{key} {o.as_dict(cond.get(key))}" if isinstance(cond.get(key), dict) else f"{key}"
              for key in HEADER_LIKE if cond.get(key)]
    for key in ("gateways", "sourceLabels", "sourceNamespace", "port"):
        if cond.get(key):
            parts.append(f"{key} {cond[key]}")
    return ", ".join(parts) or "everything (no match)"


def is_catch_all(cond: dict[str, Any]) -> bool:
    """Prefix `/`, regex `.*` or no uri, and no header-like matcher (§B.3). gateways, sourceLabels,
    sourceNamespace and port are decided when config is generated, so they do not narrow the route."""
    if any(cond.get(key) for key in HEADER_LIKE):
        return False
    uri = o.as_dict(cond.get("uri"))
    if not uri:
        return True
    return uri.get("prefix") == "/" or uri.get("regex") in (".*", "/.*")


def destinations_of(rule: dict[str, Any], vs_ns: str, domain: str) -> tuple[Destination, ...]:
    out = []
    for dest in o.as_list(rule.get("route")):
        d = o.as_dict(o.as_dict(dest).get("destination"))
        host = o.as_str(d.get("host"))
        if host:
            port = o.as_dict(d.get("port")).get("number")
            weight = o.as_dict(dest).get("weight")
            out.append(Destination(hosts.resolve(host, vs_ns, domain), o.as_str(d.get("subset")),
                                   port if isinstance(port, int) else None,
                                   weight if isinstance(weight, int) else None))
    return tuple(out)


def mirrors(rule: dict[str, Any], vs_ns: str, domain: str) -> tuple[Destination, ...]:
    items = [rule.get("mirror"), *(o.as_dict(m).get("destination") for m in o.as_list(rule.get("mirrors")))]
    out = []
    for d in items:
        d = o.as_dict(d)
        if o.as_str(d.get("host")):
            out.append(Destination(hosts.resolve(d["host"], vs_ns, domain), o.as_str(d.get("subset"))))
    return tuple(out)


ROUTE_KINDS = ("http", "tcp", "tls")


def all_destinations(vs: dict[str, Any], domain: str) -> Iterator[Destination]:
    """Every destination a VirtualService sends traffic to: http, tcp and tls routes, and mirrors."""
    for kind in ROUTE_KINDS:
        for rule in o.as_list(o.spec(vs).get(kind)):
            rule = o.as_dict(rule)
            yield from destinations_of(rule, o.namespace(vs), domain)
            yield from mirrors(rule, o.namespace(vs), domain)


def _match_applies(cond: dict[str, Any], gateway: str, vs_ns: str) -> bool:
    gws = [normalize_gateway(g, vs_ns) for g in o.as_list(cond.get("gateways")) if isinstance(g, str)]
    return not gws or gateway in gws


@dataclass(frozen=True)
class ProxyFacts:
    """What Istio knows of the one proxy it generates routes for, and uses to drop match entries while
    generating (1.28 pilot/pkg/networking/core/route/route.go TranslateRoute, sourceMatchHTTP): the
    listener port (`port`), and, for a match without `gateways`, `sourceLabels` (a subset of the proxy's
    labels) and `sourceNamespace`."""

    port: int
    labels: dict[str, str]
    namespace: str

    def keeps(self, cond: dict[str, Any]) -> bool:
        port = cond.get("port")
        if isinstance(port, int) and port and port != self.port:
            return False
        if o.as_list(cond.get("gateways")):
            return True  # decided by the gateways alone (_match_applies)
        wanted = o.as_dict(cond.get("sourceLabels"))
        if any(self.labels.get(k) != v for k, v in wanted.items()):
            return False
        return o.as_str(cond.get("sourceNamespace")) in ("", self.namespace)


def routes_for(vs: dict[str, Any], gateway: str, domain: str, delegates: dict[str, dict[str, Any]] | None = None,
               proxy: ProxyFacts | None = None) -> tuple[list[HttpRoute], HttpRoute | None]:
    """The Envoy routes of one VirtualService for the proxies of `gateway`, in order, stopping at the first
    catch-all (returned second). Delegate rules (1.8+) are expanded one level. Given one proxy's facts,
    the entries Istio drops for that proxy are dropped before the cut-off, as Istio does."""
    out: list[HttpRoute] = []
    vs_ns = o.namespace(vs)
    for i, rule in enumerate(o.as_list(o.spec(vs).get("http"))):
        rule = o.as_dict(rule)
        matches = [o.as_dict(m) for m in o.as_list(rule.get("match"))]
        entries: list[tuple[int | None, dict[str, Any]]] = list(enumerate(matches)) if matches else [(None, {})]
        for j, cond in entries:
            if not _match_applies(cond, gateway, vs_ns) or (proxy is not None and not proxy.keeps(cond)):
                continue
            for route in _expand(vs, i, j, cond, rule, domain, delegates):
                out.append(route)
                if route.catch_all:
                    return out, route
    return out, None


def _expand(vs: dict[str, Any], i: int, j: int | None, cond: dict[str, Any], rule: dict[str, Any], domain: str,
            delegates: dict[str, dict[str, Any]] | None) -> Iterator[HttpRoute]:
    target = o.as_dict(rule.get("delegate"))
    if not target:
        yield HttpRoute(vs, i, j, is_catch_all(cond), cond, destinations_of(rule, o.namespace(vs), domain))
        return
    child = (delegates or {}).get(delegate_key(vs, rule))
    if child is None or not _exported_to_root(child, o.namespace(vs)):
        return  # Istio skips a missing or hidden delegate with a log line only
    for child_rule in o.as_list(o.spec(child).get("http")):
        child_rule = o.as_dict(child_rule)
        child_matches = [o.as_dict(m) for m in o.as_list(child_rule.get("match"))] or [{}]
        for child_cond in child_matches:
            merged = {**cond, **child_cond}
            yield HttpRoute(vs, i, j, is_catch_all(merged), merged,
                            destinations_of(child_rule, o.namespace(child), domain), delegate=child)


def delegate_key(root: dict[str, Any], rule: dict[str, Any]) -> str:
    target = o.as_dict(rule.get("delegate"))
    return f"{o.as_str(target.get('namespace')) or o.namespace(root)}/{o.as_str(target.get('name'))}"


def delegate_keys(root: dict[str, Any]) -> list[str]:
    return [delegate_key(root, o.as_dict(r)) for r in o.as_list(o.spec(root).get("http"))
            if o.as_dict(o.as_dict(r).get("delegate"))]


def _exported_to_root(delegate: dict[str, Any], root_ns: str) -> bool:
    """virtualservice.go mergeVirtualServicesIfNeeded: a delegate must be exported to the root's
    namespace (or public). Without exportTo the mesh default applies, taken here as public (Istio's)."""
    exports = [e for e in o.as_list(o.spec(delegate).get("exportTo")) if isinstance(e, str)]
    if not exports or "*" in exports:
        return True
    return root_ns in [o.namespace(delegate) if e == "." else e for e in exports]


def unreachable_rules(vs: dict[str, Any], gateway: str, domain: str) -> tuple[HttpRoute | None, list[int]]:
    """The catch-all and the (0-based) rules after it that never reach Envoy for `gateway`'s proxies."""
    _, stop = routes_for(vs, gateway, domain)
    if stop is None:
        return None, []
    rules = o.as_list(o.spec(vs).get("http"))
    later = [k for k in range(stop.rule + 1, len(rules))
             if any(_match_applies(c, gateway, o.namespace(vs)) for c in
                    ([o.as_dict(m) for m in o.as_list(o.as_dict(rules[k]).get("match"))] or [{}]))]
    return stop, later


@dataclass(frozen=True)
class Shadowed:
    """A rule no request or connection reaches, and the earlier rule that takes them all."""

    kind: str  # http | tcp | tls
    rule: int
    by: int
    why: str


# L4 match fields decided by the proxy (its port, labels, namespace, gateway): a match with none of
# these, and no destinationSubnets, applies to every connection on every proxy.
L4_SCOPE = ("port", "sourceLabels", "sourceNamespace", "gateways", "destinationSubnets")


def _applying(rule: dict[str, Any], gateway: str, vs_ns: str) -> list[dict[str, Any]] | None:
    """The rule's match entries that apply to `gateway`'s proxies; None for a rule without match."""
    matches = [o.as_dict(m) for m in o.as_list(rule.get("match"))]
    if not matches:
        return None
    return [m for m in matches if _match_applies(m, gateway, vs_ns)]


def shadowed_rules(vs: dict[str, Any], kind: str, gateway: str) -> list[Shadowed]:
    """Rules after a terminal rule, or whose every match entry repeats an earlier rule's, as istioctl's
    VirtualServiceUnreachableRule reports them. tcp: a rule without match, or with a match entry that is
    not scoped (L4_SCOPE), ends route generation (pilot/pkg/networking/core/tls.go, `break TcpLoop`);
    tls: the first rule for a given match predicate wins (hashRuntimeTLSMatchPredicates). http rules
    after a catch-all are unreachable_rules'; here, http rules shadowed by an identical earlier match."""
    vs_ns = o.namespace(vs)
    rules = [o.as_dict(r) for r in o.as_list(o.spec(vs).get(kind))]
    seen: list[tuple[dict[str, Any], int]] = []
    terminal: int | None = None
    out: list[Shadowed] = []
    for k, rule in enumerate(rules):
        entries = _applying(rule, gateway, vs_ns)
        if entries == []:
            continue  # not for this gateway's proxies
        if kind == "http" and (entries is None or any(is_catch_all(m) for m in entries)):
            break  # rules after an http catch-all: unreachable_rules reports them
        if terminal is not None:
            out.append(Shadowed(kind, k, terminal, "matches every connection first"))
            continue
        if entries is not None:
            earlier = [next((j for m2, j in seen if m2 == m), None) for m in entries]
            if all(j is not None for j in earlier):
                out.append(Shadowed(kind, k, max(j for j in earlier if j is not None),
                                    "already has every match it lists"))
                continue
            seen += [(m, k) for m in entries]
        if kind == "tcp" and (entries is None or any(not any(m.get(f) for f in L4_SCOPE) for m in entries)):
            terminal = k
    return out


# ---------------------------------------------------------------------------- sidecars: one VS per host

@dataclass(frozen=True, eq=False)
class Candidate:
    vs: dict[str, Any] = field(repr=False)
    klass: int
    pattern: str

    @property
    def ref(self) -> str:
        return vs_ref(self.vs)


@dataclass(frozen=True, eq=False)
class MeshSelection:
    host: str
    client_ns: str
    winner: Candidate | None
    ignored: tuple[Candidate, ...]


def ordered_candidates(virtual_services: Iterable[dict[str, Any]], settings: MeshSettings, client_ns: str,
                       host: str, gateway: str) -> list[Candidate]:
    """VirtualServices bound to `gateway` and visible from `client_ns` whose best host pattern for `host` is
    the one Envoy would pick, in Istio's order: visibility class, then creation time, then name."""
    found = []
    for vs in virtual_services:
        if gateway not in vs_gateways(vs):
            continue
        klass = visibility_class(vs, client_ns, settings.default_vs_export_to, settings.version)
        pattern = best_pattern(declared_hosts(vs, settings.cluster_domain), host)
        if klass is not None and pattern is not None:
            found.append(Candidate(vs, klass, pattern))
    best = best_pattern({c.pattern for c in found}, host)
    same = [c for c in found if c.pattern == best]
    return sorted(same, key=lambda c: (c.klass, *creation_order(c.vs)))


def mesh_selection(virtual_services: Iterable[dict[str, Any]], settings: MeshSettings, client_ns: str,
                   host: str) -> MeshSelection:
    ordered = ordered_candidates(virtual_services, settings, client_ns, host, MESH)
    return MeshSelection(host, client_ns, ordered[0] if ordered else None, tuple(ordered[1:]))


# ------------------------------------------------------------------------------ gateways: fragments merge

def server_hosts(gateway: dict[str, Any]) -> list[tuple[str, str]]:
    """(namespace part, host) of every server host: `ns/host`, `./host` (the Gateway's namespace),
    `*/host` or plain `host` (every namespace), as model/gateway.go sanitizeServerHostNamespace reads them."""
    out = []
    for server in o.as_list(o.spec(gateway).get("servers")):
        for h in o.as_list(o.as_dict(server).get("hosts")):
            if isinstance(h, str):
                ns, _, name = h.rpartition("/")
                out.append((o.namespace(gateway) if ns == "." else ns or "*", name))
    return out


def _subset_of(name: str, other: str) -> bool:
    """pkg/config/host/name.go Name.SubsetOf: `name` is covered by `other`."""
    if name.startswith("*"):
        return other.startswith("*") and len(name) >= len(other) and name[1:].endswith(other[1:])
    if other.startswith("*"):
        return name.endswith(other[1:])
    return name == other


def virtual_hosts(vs: dict[str, Any], servers: list[tuple[str, str]], domain: str) -> list[str]:
    """The virtual hosts a gateway builds from one VirtualService: its hosts intersected with the server
    hosts that admit its namespace (pilot/pkg/networking/core/gateway.go buildGatewayHTTPRouteConfig,
    `host.NamesForNamespace(server.Hosts, virtualService.Namespace).Intersection(virtualServiceHosts)`;
    pkg/config/host/names.go: of two matching names the narrower one is kept). Empty: the gateway
    ignores the VirtualService."""
    out: list[str] = []
    for vs_host in declared_hosts(vs, domain):
        for narrower in admitted(servers, o.namespace(vs), vs_host):
            if narrower not in out:
                out.append(narrower)
    return out


def admitted(servers: list[tuple[str, str]], vs_namespace: str, vs_host: str) -> list[str]:
    """The virtual hosts one VirtualService host gets from the server hosts open to its namespace."""
    out = []
    for ns, server_host in servers:
        if ns not in ("*", vs_namespace):
            continue
        if _subset_of(server_host, vs_host):
            out.append(server_host)
        elif _subset_of(vs_host, server_host):
            out.append(vs_host)
    return out


@dataclass(frozen=True, eq=False)
class GatewayMerge:
    """The virtual host of one gateway's proxies (in `proxy_namespace`) that answers for `host`, and the
    fragments merged into it."""

    gateway: str
    host: str
    proxy_namespace: str
    virtual_host: str | None
    fragments: tuple[Candidate, ...]
    routes: tuple[HttpRoute, ...]  # merged order: catch-alls moved to the end

    @property
    def catch_alls(self) -> tuple[HttpRoute, ...]:
        return tuple(r for r in self.routes if r.catch_all)


def gateway_merge(virtual_services: list[dict[str, Any]], settings: MeshSettings, gateway: str,
                  gateway_obj: dict[str, Any] | None, host: str, proxy_namespace: str,
                  delegates: dict[str, dict[str, Any]] | None = None) -> GatewayMerge:
    """Each VirtualService bound to the gateway and visible from its proxies' namespace
    (`VirtualServicesForGateway(node.ConfigNamespace, gateway)`) adds its routes to every virtual host
    of its intersection with the servers' hosts; Envoy answers `host` from the exact virtual host, else
    the longest wildcard one. A Gateway that does not exist configures nothing."""
    servers = server_hosts(gateway_obj) if gateway_obj is not None else []
    visible: list[tuple[Candidate, list[str]]] = []
    for vs in virtual_services:
        if gateway not in vs_gateways(vs):
            continue
        klass = visibility_class(vs, proxy_namespace, settings.default_vs_export_to, settings.version)
        vhosts = virtual_hosts(vs, servers, settings.cluster_domain)
        if klass is not None and vhosts:
            visible.append((Candidate(vs, klass, ""), vhosts))
    chosen = best_pattern({h for _, vhosts in visible for h in vhosts}, host)
    fragments = [Candidate(c.vs, c.klass, chosen) for c, vhosts in
                 sorted(visible, key=lambda cv: (cv[0].klass, *creation_order(cv[0].vs))) if chosen in vhosts]
    if settings.version is not None and not settings.version.at_least(1, 1):
        fragments = fragments[:1]  # Istio 1.0 gateways kept the first VirtualService for a host
    routes: list[HttpRoute] = []
    for frag in fragments:
        routes.extend(routes_for(frag.vs, gateway, settings.cluster_domain, delegates)[0])
    ordered = [r for r in routes if not r.catch_all] + [r for r in routes if r.catch_all]
    return GatewayMerge(gateway, host, proxy_namespace, chosen, tuple(fragments), tuple(ordered))


# -------------------------------------------------------------------------------------- match overlap

def _uri_overlap(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """True when some path matches both, False when none can, None when it cannot be told (regex)."""
    if not a or not b:
        return True
    (ka, va), (kb, vb) = next(iter(a.items())), next(iter(b.items()))
    va, vb = str(va), str(vb)
    if "regex" in (ka, kb):
        return True if (ka, va) == (kb, vb) else None
    if ka == kb == "prefix":
        return va.startswith(vb) or vb.startswith(va)
    if ka == kb == "exact":
        return va == vb
    exact, prefix = (va, vb) if ka == "exact" else (vb, va)
    return exact.startswith(prefix)


def _headers(cond: dict[str, Any]) -> dict[str, tuple[str, str]]:
    out = {}
    for name, spec in o.as_dict(cond.get("headers")).items():
        for kind, value in o.as_dict(spec).items():
            out[name.lower()] = (kind, str(value))
    for key in ("method", "authority", "scheme"):
        for kind, value in o.as_dict(cond.get(key)).items():
            out[f":{key}"] = (kind, str(value))
    return out


def matches_overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether one request can match both conditions; only provable overlaps count (no false alarms)."""
    uri = _uri_overlap(o.as_dict(a.get("uri")), o.as_dict(b.get("uri")))
    if not uri:
        return False
    ha, hb = _headers(a), _headers(b)
    for name in ha.keys() & hb.keys():
        (ka, va), (kb, vb) = ha[name], hb[name]
        if ka == kb == "exact" and va != vb:
            return False
        if {ka, kb} == {"exact", "prefix"}:
            exact, prefix = (va, vb) if ka == "exact" else (vb, va)
            if not exact.startswith(prefix):
                return False
        if "regex" in (ka, kb) and (ka, va) != (kb, vb):
            return False  # cannot prove an overlap
    return True
