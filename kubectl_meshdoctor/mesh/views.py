"""The client namespaces whose view of a host matters, and what each of them really gets.

A host looks different from different namespaces: exportTo hides objects, DestinationRule lookup
starts in the client's own namespace, gateways merge fragments. The views evaluated are the host's
own namespace, every namespace that declares a VirtualService or DestinationRule mentioning it, the
namespaces of gateways whose VirtualServices route to it, and the root namespace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.target import Target
from kubectl_meshdoctor.mesh.visibility import visibility_class
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

    @property
    def origin(self) -> str:
        what = "mirror of " if self.kind == "mirror" else ""
        return f"{what}VirtualService {vss.vs_ref(self.vs)} {self.kind if self.kind != 'mirror' else 'http'} " \
               f"rule #{self.rule + 1}"


@dataclass(frozen=True, eq=False)
class RoutingModel:
    """Everything the routing checks and the Routing section read, computed once per run."""

    target: Target
    settings: MeshSettings
    virtual_services: tuple[dict[str, Any], ...]
    destination_rules: tuple[dict[str, Any], ...]
    views: tuple[ClientView, ...]
    gateways: tuple[str, ...]  # ns/name of gateways whose VirtualServices declare or route to the host
    declaring: tuple[dict[str, Any], ...]     # VirtualServices whose hosts cover the host
    routing_here: tuple[dict[str, Any], ...]  # VirtualServices with a destination on the host
    snapshot: Snapshot  # its per-namespace index serves the DestinationRule lookups

    @property
    def host(self) -> str:
        return self.target.host

    @property
    def domain(self) -> str:
        return self.settings.cluster_domain

    @cached_property
    def delegates(self) -> dict[str, dict[str, Any]]:
        """VirtualServices without hosts are delegates, addressed as ns/name."""
        return {vss.vs_ref(v): v for v in self.virtual_services if not vss.declared_hosts(v, self.domain)}

    @cached_property
    def _vs_by_host(self) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        """VirtualServices indexed by declared host, and those with wildcard hosts: a selection for one
        host looks at its own candidates instead of every VirtualService in the cluster."""
        exact: dict[str, list[dict[str, Any]]] = {}
        wild: list[dict[str, Any]] = []
        for vs in self.virtual_services:
            for host in vss.declared_hosts(vs, self.domain):
                if host.startswith("*"):
                    wild.append(vs)
                else:
                    exact.setdefault(host, []).append(vs)
        return exact, list({id(v): v for v in wild}.values())

    def candidates(self, host: str) -> list[dict[str, Any]]:
        exact, wild = self._vs_by_host
        return list({id(v): v for v in [*exact.get(host, []), *wild]}.values())

    def selection_for(self, client_ns: str, host: str) -> vss.MeshSelection:
        return vss.mesh_selection(self.candidates(host), self.settings, client_ns, host)

    def mesh_selection(self, view: ClientView) -> vss.MeshSelection:
        return self.selection_for(view.namespace, self.host)

    @cached_property
    def _lookups(self) -> dict[tuple[str, str, str | None], drs.DRLookup]:
        return {}

    def lookup_for(self, client_ns: str, host: str, service_ns: str | None) -> drs.DRLookup:
        """The DestinationRule lookup, memoised; it reads only the three namespaces on the lookup path
        (all rules on Istio 1.0, which had no lookup path)."""
        key = (client_ns, host, service_ns)
        if key not in self._lookups:
            version = self.settings.version
            if version is not None and not version.at_least(1, 1):
                rules = list(self.destination_rules)
            else:
                on_path = dict.fromkeys((client_ns, service_ns, self.settings.root_namespace))
                rules = [r for ns in on_path if ns for r in self.snapshot.in_namespace("destinationrules", ns)]
            self._lookups[key] = drs.lookup(rules, self.settings, client_ns, host, service_ns)
        return self._lookups[key]

    def gateway_merge(self, gateway: str) -> vss.GatewayMerge:
        return vss.gateway_merge(self.candidates(self.host), self.settings, gateway, self.host, self.delegates)

    def dr_lookup(self, view: ClientView) -> drs.DRLookup:
        service_ns = self.target.namespace if self.target.services else None
        return self.lookup_for(view.namespace, self.host, service_ns)

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
        return [r for r in self.destination_rules if drs.dr_host(r, self.domain) == self.host]

    @cached_property
    def gateway_users(self) -> tuple[tuple[dict[str, Any], str], ...]:
        """(VirtualService, gateway ref) for every gateway-bound VirtualService declaring or routing to the host."""
        users = {id(v): v for v in (*self.declaring, *self.routing_here)}.values()
        return tuple((vs, g) for vs in users for g in vss.vs_gateways(vs) if g != vss.MESH)

    @cached_property
    def routed_destinations(self) -> tuple[RoutedDestination, ...]:
        """Per client namespace with callers, the destinations to the host in the VirtualServices in
        effect there; per gateway, those in the fragments it merges."""
        out: list[RoutedDestination] = []
        for vs in self.routing_here:
            for gateway in vss.vs_gateways(vs):
                if gateway == vss.MESH:
                    for view in self.views:
                        if view.has_callers and self._in_effect(vs, view.namespace):
                            out += self._destinations(vs, gateway, view.namespace)
                elif visibility_class(vs, gateway.partition("/")[0], self.settings.default_vs_export_to,
                                      self.settings.version) is not None:
                    out += self._destinations(vs, gateway, gateway.partition("/")[0])
        return tuple(out)

    def _in_effect(self, vs: dict[str, Any], client_ns: str) -> bool:
        """Whether sidecars in client_ns use this VirtualService for at least one of its hosts."""
        for host in vss.declared_hosts(vs, self.domain):
            winner = self.selection_for(client_ns, host).winner
            if winner is not None and winner.vs is vs:
                return True
        return False

    def _destinations(self, vs: dict[str, Any], gateway: str, client_ns: str) -> list[RoutedDestination]:
        out = []
        routes, _ = vss.routes_for(vs, gateway, self.domain, self.delegates)
        rules = o.as_list(o.spec(vs).get("http"))
        for rule in sorted({r.rule for r in routes}):
            for dest in (d for r in routes if r.rule == rule for d in r.destinations):
                out.append(RoutedDestination(vs, rule, "http", dest, client_ns, gateway))
            for dest in vss.mirrors(o.as_dict(rules[rule]), o.namespace(vs), self.domain):
                out.append(RoutedDestination(vs, rule, "mirror", dest, client_ns, gateway))
        for kind in ("tcp", "tls"):
            for i, rule in enumerate(o.as_list(o.spec(vs).get(kind))):
                for dest in vss.destinations_of(o.as_dict(rule), o.namespace(vs), self.domain):
                    out.append(RoutedDestination(vs, i, kind, dest, client_ns, gateway))
        return [d for d in out if d.destination.host == self.host]


def build_model(snapshot: Snapshot, settings: MeshSettings, target: Target) -> RoutingModel:
    vs_all = tuple(snapshot.all("virtualservices"))
    dr_all = tuple(snapshot.all("destinationrules"))
    domain = settings.cluster_domain
    reasons: dict[str, list[str]] = {}

    def add(ns: str, why: str) -> None:
        if ns:
            reasons.setdefault(ns, []).append(why)

    add(target.namespace, "the host's namespace")
    gateways: dict[str, None] = {}
    declaring, routing_here = [], []
    first_label = target.host.split(".")[0]
    for vs in vs_all:  # the one pass over every VirtualService; the model keeps what it found
        mentions = vss.best_pattern(vss.declared_hosts(vs, domain), target.host) is not None
        # a destination on the host is written as its first label, `name.ns...` or the FQDN: a cheap
        # test of the raw spec comes before resolving every destination
        routes_to = first_label in json.dumps(o.spec(vs)) and any(
            d.host == target.host for d in vss.all_destinations(vs, domain))
        if mentions:
            declaring.append(vs)
        if routes_to:
            routing_here.append(vs)
        if not (mentions or routes_to):
            continue
        add(o.namespace(vs), f"declares VirtualService {o.name(vs)}")
        for gw in vss.vs_gateways(vs):
            if gw != vss.MESH:
                gateways[gw] = None
                add(gw.partition("/")[0], f"gateway {gw} routes to the host")
    for dr in dr_all:
        if drs.dr_host(dr, domain) == target.host:
            add(o.namespace(dr), f"declares DestinationRule {o.name(dr)}")
    add(settings.root_namespace, "root namespace")
    views = tuple(ClientView(ns, tuple(dict.fromkeys(why))) for ns, why in reasons.items())
    return RoutingModel(target, settings, vs_all, dr_all, views, tuple(gateways), tuple(declaring),
                        tuple(routing_here), snapshot)
