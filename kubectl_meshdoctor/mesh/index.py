"""Cluster-wide lookups built once per snapshot and shared by every host a run analyses.

A host's model needs the VirtualServices that declare it or route to it, the DestinationRules for it,
and the roots of delegates that route to it. Scanning every object for every host made `scan -A`
quadratic (issue 19: 86% of two minutes at 10,000 pods); here each object is read once, and a host's
model touches only the objects that name it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o


@dataclass(frozen=True, eq=False)
class Mention:
    """A host as written in a VirtualService (hosts, a route destination) or a DestinationRule (host)."""

    obj: dict[str, Any]
    kind: str
    spelled: str
    where: str


def vs_mentions(vs: dict[str, Any]) -> Iterator[Mention]:
    for h in o.as_list(o.spec(vs).get("hosts")):
        if isinstance(h, str):
            yield Mention(vs, "VirtualService", h, "hosts")
    for kind in vss.ROUTE_KINDS:
        for rule in o.as_list(o.spec(vs).get(kind)):
            for dest in o.as_list(o.as_dict(rule).get("route")):
                h = o.as_str(o.dig(dest, "destination", "host"))
                if h:
                    yield Mention(vs, "VirtualService", h, "a route destination")


def dotted_short_name(spelled: str, domain: str) -> bool:
    """A host written with a dot but not as an FQDN (`reviews.bookinfo`): Istio takes it literally
    (ISTIO-SEMANTICS §A.1), so it may name a Service by mistake. Short names without a dot, wildcards,
    IPs and FQDNs never do: the index keeps only these mentions (a cluster where every namespace has
    an `api` Service writes `api` thousands of times)."""
    return "." in spelled and not spelled.startswith("*") and not hosts.is_ip(spelled) \
        and not spelled.endswith(f".svc.{domain}")


def host_mentions(snapshot: Snapshot) -> Iterator[Mention]:
    for vs in snapshot.all("virtualservices"):
        yield from vs_mentions(vs)
    for dr in snapshot.all("destinationrules"):
        h = o.as_str(o.spec(dr).get("host"))
        if h:
            yield Mention(dr, "DestinationRule", h, "host")


@dataclass(frozen=True)
class HostIndex:
    domain: str
    position: dict[int, int]                          # id(object) -> its place in the snapshot (stable order)
    declared: dict[str, tuple[dict[str, Any], ...]]   # exact host -> VirtualServices declaring it
    declared_wildcards: tuple[dict[str, Any], ...]    # VirtualServices with a wildcard host
    routed: dict[str, tuple[dict[str, Any], ...]]     # destination host -> VirtualServices routing there
    delegates: dict[str, dict[str, Any]]              # ns/name -> VirtualService without hosts (1.8+)
    delegate_roots: dict[str, tuple[dict[str, Any], ...]]  # delegate ns/name -> VirtualServices delegating to it
    rules: dict[str, tuple[dict[str, Any], ...]]      # exact DestinationRule host -> rules
    wildcard_rules: tuple[dict[str, Any], ...]
    mentions: dict[str, tuple[Mention, ...]]          # first label of a dotted short name -> where it is written

    @classmethod
    def of(cls, snapshot: Snapshot, domain: str) -> HostIndex:
        return snapshot.derived(("host-index", domain), lambda: cls._build(snapshot, domain))

    @classmethod
    def _build(cls, snapshot: Snapshot, domain: str) -> HostIndex:
        declared: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        routed: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        roots: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        rules: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        wild: dict[int, dict[str, Any]] = {}
        delegates: dict[str, dict[str, Any]] = {}
        wild_rules: list[dict[str, Any]] = []
        position: dict[int, int] = {}
        for i, vs in enumerate(snapshot.all("virtualservices")):
            position[id(vs)] = i
            declared_hosts = vss.declared_hosts(vs, domain)
            if not declared_hosts:
                delegates[vss.vs_ref(vs)] = vs
            for host in dict.fromkeys(declared_hosts):
                if host.startswith("*"):
                    wild[id(vs)] = vs
                else:
                    declared[host].append(vs)
            for host in dict.fromkeys(d.host for d in vss.all_destinations(vs, domain)):
                routed[host].append(vs)
            for key in dict.fromkeys(vss.delegate_keys(vs)):
                roots[key].append(vs)
        for i, dr in enumerate(snapshot.all("destinationrules")):
            position[id(dr)] = i
            host = drs.dr_host(dr, domain)
            (wild_rules if host.startswith("*") else rules[host]).append(dr)
        mentions: defaultdict[str, list[Mention]] = defaultdict(list)
        for mention in host_mentions(snapshot):
            if dotted_short_name(mention.spelled, domain):
                mentions[mention.spelled.split(".")[0]].append(mention)

        def freeze(d: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[dict[str, Any], ...]]:
            return {k: tuple(v) for k, v in d.items()}
        return cls(domain, position, freeze(declared), tuple(wild.values()), freeze(routed), delegates,
                   freeze(roots), freeze(rules), tuple(wild_rules), {k: tuple(v) for k, v in mentions.items()})

    def in_order(self, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each object once, in snapshot order."""
        unique = {id(x): x for x in objects}
        return sorted(unique.values(), key=lambda x: self.position.get(id(x), 0))

    def candidates(self, host: str) -> list[dict[str, Any]]:
        """VirtualServices that may declare `host`: those naming it exactly, and every wildcard one."""
        return self.in_order((*self.declared.get(host, ()), *self.declared_wildcards))

    def rules_for(self, host: str) -> list[dict[str, Any]]:
        """DestinationRules whose host is `host` or a wildcard covering it, in snapshot order."""
        return self.in_order((*self.rules.get(host, ()),
                              *(r for r in self.wildcard_rules if hosts.wildcard_matches(drs.dr_host(r, self.domain),
                                                                                         host))))

    def mentions_for(self, names: Iterable[str], virtual_services: Iterable[dict[str, Any]]) -> list[Mention]:
        """Dotted short names (dotted_short_name) written with one of these first labels anywhere, and
        those written in these VirtualServices, each once, in snapshot order."""
        found = [m for name in dict.fromkeys(names) for m in self.mentions.get(name, ())]
        found += [m for vs in virtual_services for m in vs_mentions(vs) if dotted_short_name(m.spelled, self.domain)]
        unique = {(id(m.obj), m.spelled, m.where): m for m in found}
        return sorted(unique.values(), key=lambda m: (m.kind != "VirtualService", self.position.get(id(m.obj), 0)))
