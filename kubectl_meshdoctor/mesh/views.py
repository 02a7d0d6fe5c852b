"""The client namespaces whose view of a host matters, and what each of them really gets.

A host looks different from different namespaces: exportTo hides objects, DestinationRule lookup
starts in the client's own namespace, gateways merge fragments. The views evaluated are the host's
own namespace, every namespace that declares a VirtualService or DestinationRule mentioning it, the
namespaces of gateways whose VirtualServices route to it, and the root namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import gatewayapi
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.ambient import GATEWAY_NAME
from kubectl_meshdoctor.mesh.index import HostIndex
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.sidecars import SidecarScope, scope_for
from kubectl_meshdoctor.mesh.target import Target
from kubectl_meshdoctor.mesh.visibility import export_list, visibility_class
from kubectl_meshdoctor.mesh.workloads import gateway_proxies, service_selector
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o


@dataclass(frozen=True)
class ClientView:
    namespace: str
    reasons: tuple[str, ...]

    @property
    def has_callers(self) -> bool:
        """False for a namespace considered only because it is the root namespace."""
        return self.reasons != ("root namespace",)


@dataclass(frozen=True, eq=False)
class RoutedDestination:
    """Traffic for the host that a client namespace (or a gateway) really sends: the VirtualService in
    effect there, the rule, and the destination, with or without a subset."""

    vs: dict[str, Any]
    rule: int
    kind: str  # http | tcp | tls | mirror
    destination: vss.Destination
    client_ns: str
    gateway: str  # mesh, or ns/name
    delegate: dict[str, Any] | None = None  # the delegate VirtualService the route comes from (1.8+)

    @property
    def origin(self) -> str:
        what = "mirror of " if self.kind == "mirror" else ""
        via = f" via delegate {vss.vs_ref(self.delegate)}" if self.delegate is not None else ""
        return f"{what}VirtualService {vss.vs_ref(self.vs)} {self.kind if self.kind != 'mirror' else 'http'} " \
               f"rule #{self.rule + 1}{via}"


@dataclass(frozen=True, eq=False)
class RoutingModel:
    """Everything the routing checks and the Routing section read, computed once per run."""

    target: Target
    settings: MeshSettings
    views: tuple[ClientView, ...]
    gateways: tuple[str, ...]  # ns/name of gateways whose VirtualServices declare or route to the host
    declaring: tuple[dict[str, Any], ...]     # VirtualServices whose hosts cover the host
    routing_here: tuple[dict[str, Any], ...]  # VirtualServices with a destination on the host
    snapshot: Snapshot  # its per-namespace index serves the DestinationRule lookups
    index: HostIndex    # the snapshot's VirtualServices and DestinationRules by host, shared across hosts

    @property
    def host(self) -> str:
        return self.target.host

    @property
    def domain(self) -> str:
        return self.settings.cluster_domain

    @property
    def delegates(self) -> dict[str, dict[str, Any]]:
        """VirtualServices without hosts are delegates, addressed as ns/name."""
        return self.index.delegates

    def candidates(self, host: str) -> list[dict[str, Any]]:
        return self.index.candidates(host)

    def sidecar_scope(self, client_ns: str) -> SidecarScope:
        """What the sidecars of a namespace import (mesh/sidecars.py): once per snapshot and namespace,
        shared by every host of a scan."""
        key = ("sidecar-scope", client_ns, self.settings.root_namespace)
        return self.snapshot.derived(key, lambda: scope_for(self.snapshot, self.settings, client_ns))

    def selection_for(self, client_ns: str, host: str) -> vss.MeshSelection:
        """The VirtualService sidecars in client_ns use for host, among those their Sidecar imports. It
        does not depend on the host being diagnosed: once per snapshot and settings (a scan's hosts ask
        for each other's, to know which VirtualServices are in effect)."""
        def select() -> vss.MeshSelection:
            scope = self.sidecar_scope(client_ns)
            imported = [vs for vs in self.candidates(host)
                        if scope.imports_virtual_service(vs, vss.declared_hosts(vs, self.domain))]
            return vss.mesh_selection(imported, self.settings, client_ns, host)
        return self.snapshot.derived_for(self.settings, ("mesh-selection", client_ns, host), select)

    def mesh_selection(self, view: ClientView) -> vss.MeshSelection:
        return self.selection_for(view.namespace, self.host)

    @cached_property
    def _lookups(self) -> dict[tuple[str, str, str | None, bool], drs.DRLookup]:
        return {}

    def lookup_for(self, client_ns: str, host: str, service_ns: str | None, gateway: bool = False) -> drs.DRLookup:
        """The DestinationRule lookup, memoised; it reads only the rules for the host in the three
        namespaces on the lookup path (in every namespace on Istio 1.0, which had no lookup path). A
        sidecar whose Sidecar resource does not import the host has no cluster for it, so no rule
        applies (sidecar.go selectDestinationRules looks rules up only for the services in scope);
        gateway proxies ignore Sidecars."""
        key = (client_ns, host, service_ns, gateway)
        if key not in self._lookups:
            scope = self.sidecar_scope(client_ns)
            version = self.settings.version
            if not gateway and not scope.imports_host(host, service_ns or ""):
                self._lookups[key] = drs.DRLookup(client_ns, host, None, None, None, None, (
                    f"{scope.describe()} does not import {host}: these sidecars have no route or cluster for it",))
                return self._lookups[key]
            # Only rules whose host covers `host` can be chosen at any step (the most specific match is
            # picked among matching hosts), so the index's rules for the host are all the lookup needs.
            rules = self.index.rules_for(host)
            if version is None or version.at_least(1, 1):
                on_path = {client_ns, service_ns, self.settings.root_namespace}
                rules = [r for r in rules if o.namespace(r) in on_path]
                if self._bystander(client_ns, service_ns, rules):
                    shared = ("bystander", host, service_ns, gateway)
                    if shared not in self._lookups:
                        self._lookups[shared] = drs.lookup(rules, self.settings, client_ns, host, service_ns)
                    self._lookups[key] = replace(self._lookups[shared], client_ns=client_ns)
                    return self._lookups[key]
            self._lookups[key] = drs.lookup(rules, self.settings, client_ns, host, service_ns)
        return self._lookups[key]

    def _bystander(self, client_ns: str, service_ns: str | None, rules: list[dict[str, Any]]) -> bool:
        """A client namespace with no rule for the host, neither the service's nor the root, when every
        rule on the path is public: its lookup walks the same steps to the same rules as any other such
        namespace (a gateway host with a hundred backends and a hundred client namespaces)."""
        default, version = self.settings.default_dr_export_to, self.settings.version
        return client_ns not in (service_ns, self.settings.root_namespace) and all(
            o.namespace(r) != client_ns and "*" in export_list(r, default, version) for r in rules)

    def gateway(self, ref: str) -> dict[str, Any] | None:
        ns, _, name = ref.partition("/")
        return self.snapshot.get("gateways", ns, name)

    def proxy_namespaces(self, ref: str) -> tuple[str, ...]:
        """The namespaces of the pods a Gateway's selector picks: a gateway proxy sees VirtualServices and
        DestinationRules from its own namespace, not the Gateway resource's
        (`VirtualServicesForGateway(node.ConfigNamespace, …)`, `DefaultSidecarScopeForGateway(ps,
        proxy.ConfigNamespace)` in pilot/pkg/model). Without known pods, the Gateway's namespace. Once
        per snapshot and Gateway."""
        return self.snapshot.derived(("proxy-namespaces", ref), lambda: self._find_proxy_namespaces(ref))

    def _find_proxy_namespaces(self, ref: str) -> tuple[str, ...]:
        gateway = self.gateway(ref)
        selector = service_selector(gateway) if gateway is not None else {}
        found = sorted({o.namespace(p) for p in self.snapshot.select_everywhere("pods", selector)}) if selector \
            else []
        return tuple(found) or (ref.partition("/")[0],)

    def gateway_merges(self, gateway: str) -> tuple[vss.GatewayMerge, ...]:
        """The merged virtual host answering for the host, per namespace of the gateway's proxies (one
        merge when they all see the same fragments)."""
        merges: dict[tuple[str, ...], vss.GatewayMerge] = {}
        for ns in self.proxy_namespaces(gateway):
            merged = self.merged_virtual_host(gateway, self.host, ns)
            merges.setdefault(tuple(f.ref for f in merged.fragments), merged)
        return tuple(merges.values())

    def merged_virtual_host(self, gateway: str, vhost: str, proxy_ns: str) -> vss.GatewayMerge:
        """The gateway's merge for `vhost` (Envoy answers it from the exact virtual host, else the longest
        wildcard one) does not depend on the host being diagnosed: once per snapshot (every backend of
        a gateway host with 500 fragments asks for the same merge)."""
        key = ("gateway-merge", gateway, vhost, proxy_ns, self.domain)
        return self.snapshot.derived(key, lambda: vss.gateway_merge(
            self.candidates(vhost), self.settings, gateway, self.gateway(gateway), vhost, proxy_ns, self.delegates))

    @cached_property
    def gateway_pods(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The proxies that carry the host's ingress traffic: those of the Istio Gateways routing to it (by
        their selectors) and of the Gateway API Gateways its routes name (pods labelled
        gateway.networking.k8s.io/gateway-name by Istio's deployment controller)."""
        found = {(o.namespace(p), o.name(p)): p for p in gateway_proxies(self.snapshot, self.gateways)}
        for ns, name in gatewayapi.gateway_parents(self.snapshot, self.host, self.target.services):
            pods = self.snapshot.select("pods", ns, {GATEWAY_NAME: name})
            found.update(((o.namespace(p), o.name(p)), p) for p in pods)
        return found

    def dr_lookup(self, view: ClientView) -> drs.DRLookup:
        return self.lookup_for(view.namespace, self.host, self.target.service_namespace)

    def client_namespaces(self, current: str, asked: tuple[str, ...]) -> list[str]:
        """Asked for with --client-namespace, else: the -n namespace, the host's, and every namespace whose
        VirtualServices or DestinationRules mention the host (its likely callers)."""
        if asked:
            return list(dict.fromkeys(asked))
        found = [current, self.target.namespace]
        found += [o.namespace(vs) for vs in (*self.declaring, *self.routing_here)]
        found += [o.namespace(dr) for dr in self.exact_rules()]
        return [ns for ns in dict.fromkeys(found) if ns]

    def exact_rules(self) -> list[dict[str, Any]]:
        return list(self.index.rules.get(self.host, ()))

    @cached_property
    def gateway_users(self) -> tuple[tuple[dict[str, Any], str], ...]:
        """(VirtualService, gateway ref) for every gateway-bound VirtualService declaring or routing to the host."""
        users = {id(v): v for v in (*self.declaring, *self.routing_here)}.values()
        return tuple((vs, g) for vs in users for g in vss.vs_gateways(vs) if g != vss.MESH)

    @cached_property
    def routed_destinations(self) -> tuple[RoutedDestination, ...]:
        """Per client namespace with callers, the destinations to the host in the VirtualServices in
        effect there; per gateway and namespace of its proxies, those of the VirtualServices it serves."""
        out: list[RoutedDestination] = []
        for vs in self.routing_here:
            for gateway in vss.vs_gateways(vs):
                if gateway == vss.MESH:
                    routes = vss.routes_for(vs, gateway, self.domain, self.delegates)[0]
                    for view in self.views:
                        if view.has_callers and self._in_effect(vs, view.namespace):
                            out += self._destinations(vs, routes, gateway, view.namespace)
                else:
                    for ns in self.proxy_namespaces(gateway):
                        reached = self._gateway_routes(vs, gateway, ns)
                        if reached is not None:
                            out += self._destinations(vs, reached, gateway, ns)
        return tuple(out)

    def _gateway_routes(self, vs: dict[str, Any], gateway: str, proxy_ns: str) -> list[vss.HttpRoute] | None:
        """The routes of this VirtualService that the gateway's proxies in proxy_ns can reach: in every
        virtual host it contributes to, the merged routes up to the first catch-all (later ones never
        match). None: the gateway does not use the VirtualService at all."""
        gw = self.gateway(gateway)
        vhosts = vss.virtual_hosts(vs, vss.server_hosts(gw), self.domain) if gw is not None else []
        if not vhosts or visibility_class(vs, proxy_ns, self.settings.default_vs_export_to,
                                          self.settings.version) is None:
            return None
        reached: dict[tuple[Any, ...], vss.HttpRoute] = {}
        for vhost in vhosts:
            merged = self.merged_virtual_host(gateway, vhost, proxy_ns)
            for route in merged.routes:
                if route.vs is vs:
                    reached.setdefault((route.rule, route.match, route.destinations, str(route.conditions)), route)
                if route.catch_all:
                    break
        return list(reached.values())

    def _in_effect(self, vs: dict[str, Any], client_ns: str) -> bool:
        """Whether sidecars in client_ns use this VirtualService for at least one of its hosts."""
        for host in vss.declared_hosts(vs, self.domain):
            winner = self.selection_for(client_ns, host).winner
            if winner is not None and winner.vs is vs:
                return True
        return False

    def _destinations(self, vs: dict[str, Any], routes: list[vss.HttpRoute], gateway: str,
                      client_ns: str) -> list[RoutedDestination]:
        """Rules no request reaches (vss.shadowed_rules) route nothing and are left out."""
        out = []
        rules = o.as_list(o.spec(vs).get("http"))
        dead = {(d.kind, d.rule) for kind in vss.ROUTE_KINDS for d in vss.shadowed_rules(vs, kind, gateway)}
        routes = [r for r in routes if ("http", r.rule) not in dead]
        for rule in sorted({r.rule for r in routes}):
            for route in (r for r in routes if r.rule == rule):
                out += [RoutedDestination(vs, rule, "http", dest, client_ns, gateway, route.delegate)
                        for dest in route.destinations]
            for dest in vss.mirrors(o.as_dict(rules[rule]), o.namespace(vs), self.domain):
                out.append(RoutedDestination(vs, rule, "mirror", dest, client_ns, gateway))
        for kind in ("tcp", "tls"):
            for i, rule in enumerate(o.as_list(o.spec(vs).get(kind))):
                if (kind, i) in dead:
                    continue
                for dest in vss.destinations_of(o.as_dict(rule), o.namespace(vs), self.domain):
                    out.append(RoutedDestination(vs, i, kind, dest, client_ns, gateway))
        return [d for d in out if d.destination.host == self.host]


def build_model(snapshot: Snapshot, settings: MeshSettings, target: Target) -> RoutingModel:
    """The host's model from the snapshot's HostIndex: only the objects that name the host are read."""
    domain = settings.cluster_domain
    index = HostIndex.of(snapshot, domain)
    reasons: dict[str, list[str]] = {}

    def add(ns: str, why: str) -> None:
        if ns:
            reasons.setdefault(ns, []).append(why)

    def add_gateways(vs: dict[str, Any]) -> None:
        for gw in vss.vs_gateways(vs):
            if gw != vss.MESH:
                gateways[gw] = None
                add(gw.partition("/")[0], f"gateway {gw} routes to the host")

    add(target.namespace, "the host's namespace" if target.service_namespace == target.namespace
        else "the namespace asked for")
    gateways: dict[str, None] = {}
    declaring = [vs for vs in index.candidates(target.host)
                 if vss.best_pattern(vss.declared_hosts(vs, domain), target.host) is not None]
    routing_here = list(index.routed.get(target.host, ()))
    for vs in index.in_order((*declaring, *routing_here)):
        add(o.namespace(vs), f"declares VirtualService {o.name(vs)}")
        add_gateways(vs)
    # a delegate (1.8+) routing here has no hosts: its roots route here through it
    delegating = [vss.vs_ref(vs) for vs in routing_here if vss.vs_ref(vs) in index.delegates]
    here = {id(v) for v in routing_here}
    for root in index.in_order(r for key in delegating for r in index.delegate_roots.get(key, ())):
        if id(root) not in here:
            routing_here.append(root)
            add(o.namespace(root), f"declares VirtualService {o.name(root)}, which delegates to the host's routes")
            add_gateways(root)
    for dr in index.rules_for(target.host):
        pattern = drs.dr_host(dr, domain)
        if pattern == target.host:
            add(o.namespace(dr), f"declares DestinationRule {o.name(dr)}")
        elif o.namespace(dr) != settings.root_namespace:
            # a wildcard rule is the first step of its own namespace's lookup (push_context.go destinationRule:
            # namespaceLocal wildcardDestRules, MostSpecificHostMatch), so its clients see the host differently
            add(o.namespace(dr), f"declares DestinationRule {o.name(dr)} ({pattern})")
    add(settings.root_namespace, "root namespace")
    views = tuple(ClientView(ns, tuple(dict.fromkeys(why))) for ns, why in reasons.items())
    return RoutingModel(target, settings, views, tuple(gateways), tuple(declaring),
                        tuple(index.in_order(routing_here)), snapshot, index)
