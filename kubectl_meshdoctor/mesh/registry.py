"""The hosts Istio's service registry knows: Kubernetes Services and ServiceEntry hosts.

Istio builds an Envoy cluster only for a host in its registry (pilot/pkg/model/push_context.go
initServiceRegistry: the Kubernetes controller's Services plus ServiceEntries), so a route to any other
host points at no cluster. ServiceEntry hosts may be wildcards (`*.example.com`), matched as Istio
matches hosts (pkg/config/host/name.go Matches). Sources: ISTIO-SEMANTICS.md §B.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o


@dataclass(frozen=True)
class Registry:
    services: frozenset[tuple[str, str]]  # (namespace, name)
    exact: frozenset[str]                 # ServiceEntry hosts
    wildcards: tuple[str, ...]            # ServiceEntry hosts with a leading `*`
    domain: str

    @classmethod
    def of(cls, snapshot: Snapshot, domain: str) -> Registry:
        return snapshot.derived(("registry", domain), lambda: cls._build(snapshot, domain))

    @classmethod
    def _build(cls, snapshot: Snapshot, domain: str) -> Registry:
        entry_hosts = {h for se in snapshot.all("serviceentries") for h in o.as_list(o.spec(se).get("hosts"))
                       if isinstance(h, str)}
        return cls(frozenset((o.namespace(s), o.name(s)) for s in snapshot.all("services")),
                   frozenset(h for h in entry_hosts if not h.startswith("*")),
                   tuple(sorted(h for h in entry_hosts if h.startswith("*"))), domain)

    def defines(self, host: str) -> bool:
        service = hosts.parse_service_fqdn(host, self.domain)
        if service is not None and (service.namespace, service.name) in self.services:
            return True
        return host in self.exact or any(hosts.wildcard_matches(w, host) for w in self.wildcards)

    def meant_service(self, host: str) -> bool:
        """`name.namespace` naming an existing Service: MD108 says what was meant; not repeated here."""
        parts = host.split(".")
        return len(parts) == 2 and (parts[1], parts[0]) in self.services
