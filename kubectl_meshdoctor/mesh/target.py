"""What the user means by `host H`: the resolution order of FINDINGS.md "Host input".

1. a Service FQDN (`name.ns.svc.<domain>` or `name.ns.svc`); 2. `name.namespace` when that Service
exists; 3. a short name in the namespace of -n / the context / default; 4. a host declared by a
gateway-bound VirtualService, a ServiceEntry or a Gateway API route on a Gateway (its hostnames),
literally or through a wildcard; 5. a host only
VirtualServices or DestinationRules mention (configuration without a Service). Anything else is an
unknown host, answered with close matches.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.errors import HostNotFound
from kubectl_meshdoctor.mesh import gatewayapi, hosts
from kubectl_meshdoctor.mesh.hosts import ServiceName
from kubectl_meshdoctor.mesh.virtualservices import MESH, all_destinations, declared_hosts, vs_gateways
from kubectl_meshdoctor.mesh.workloads import service_pods
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

SERVICE = "service"
EXTERNAL = "external"
CONFIG_ONLY = "config-only"


@dataclass(frozen=True)
class Target:
    input: str
    host: str
    namespace: str
    kind: str
    services: tuple[ServiceName, ...]  # the Services whose pods serve this host
    notes: tuple[str, ...] = ()
    # The namespace Istio gives the host's service, second on the DestinationRule lookup path: the
    # Service's, or the ServiceEntry's that declares an external host. None: no object defines the host,
    # so it is unknown (a configuration-only host is not put in -n's namespace by guess).
    service_namespace: str | None = None


def target_services(snapshot: Snapshot, target: Target) -> list[dict[str, Any]]:
    """The Service objects behind the host that the snapshot holds."""
    found = (snapshot.get("services", ref.namespace, ref.name) for ref in target.services)
    return [svc for svc in found if svc is not None]


def target_pods(snapshot: Snapshot, target: Target) -> list[dict[str, Any]]:
    """The pods behind the host: those its Services select, each once."""
    found = {(o.namespace(p), o.name(p)): p for svc in target_services(snapshot, target)
             for p in service_pods(snapshot, svc)}
    return list(found.values())


def is_gateway_bound(vs: dict[str, Any]) -> bool:
    return any(g != MESH for g in vs_gateways(vs))


def _external_hosts(snapshot: Snapshot, domain: str) -> dict[str, list[dict[str, Any]]]:
    """Declared external host -> the gateway-bound VirtualServices (or ServiceEntries) declaring it;
    once per snapshot (a scan resolves every host against it)."""
    return snapshot.derived(("external-hosts", domain), lambda: _find_external_hosts(snapshot, domain))


def _find_external_hosts(snapshot: Snapshot, domain: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for vs in snapshot.all("virtualservices"):
        if is_gateway_bound(vs):
            for host in declared_hosts(vs, domain):
                found.setdefault(host, []).append(vs)
    for se in snapshot.all("serviceentries"):
        for host in o.as_list(o.spec(se).get("hosts")):
            if isinstance(host, str):
                found.setdefault(host, []).append(se)
    for route in gatewayapi.routes(snapshot):  # the hostnames of routes on Gateway API Gateways
        for host in gatewayapi.gateway_hostnames(route):
            found.setdefault(host, []).append(route)
    return found


def _mentioned_hosts(snapshot: Snapshot, domain: str) -> set[str]:
    return snapshot.derived(("mentioned-hosts", domain), lambda: _find_mentioned_hosts(snapshot, domain))


def _find_mentioned_hosts(snapshot: Snapshot, domain: str) -> set[str]:
    mentioned: set[str] = set()
    for vs in snapshot.all("virtualservices"):
        mentioned.update(declared_hosts(vs, domain))
        mentioned.update(d.host for d in all_destinations(vs, domain))
    for dr in snapshot.all("destinationrules"):
        host = o.as_str(o.spec(dr).get("host"))
        if host:
            mentioned.add(hosts.resolve(host, o.namespace(dr), domain))
    return mentioned


def resolve_target(snapshot: Snapshot, text: str, namespace: str, domain: str) -> Target:
    host_input = text.strip().rstrip(".").lower()
    if not host_input:
        raise HostNotFound(text, namespace, [])
    service = _as_service(snapshot, host_input, namespace, domain)
    external = _external_hosts(snapshot, domain)
    declared = external.get(host_input) or next(
        (objs for pattern, objs in external.items()
         if pattern != "*" and hosts.wildcard_matches(pattern, host_input)), None)
    if service is not None:
        notes: tuple[str, ...] = ()
        if declared and hosts.parse_service_fqdn(host_input, domain) is None and "." in host_input:
            notes = (f"{host_input!r} names both the Service {service.namespace}/{service.name} and a "
                     "gateway host; the Service was chosen",)
        fqdn = hosts.service_fqdn(service.name, service.namespace, domain)
        return Target(text, fqdn, service.namespace, SERVICE, (service,), notes, service.namespace)
    if declared:
        backends = _backends(snapshot, declared, domain)
        owner_ns = o.namespace(declared[0])
        entries = [d for d in declared if snapshot.get("serviceentries", o.namespace(d), o.name(d)) is d]
        return Target(text, host_input, owner_ns, EXTERNAL, backends,
                      service_namespace=o.namespace(entries[0]) if entries else None)
    fqdn = hosts.resolve(host_input, namespace, domain)
    if fqdn in _mentioned_hosts(snapshot, domain):
        parsed = hosts.parse_service_fqdn(fqdn, domain)
        ns = parsed.namespace if parsed else namespace
        unknown = () if parsed else (f"no ServiceEntry defines {fqdn}, so the namespace Istio would give it (on "
                                     "the DestinationRule lookup path) is unknown",)
        return Target(text, fqdn, ns, CONFIG_ONLY, (),
                      (f"no Service defines {fqdn}: only VirtualServices/DestinationRules mention it, "
                       "so it is analysed as configuration only", *unknown),
                      parsed.namespace if parsed else None)
    raise HostNotFound(text, namespace, suggest(snapshot, host_input, list(external), domain))


def _as_service(snapshot: Snapshot, text: str, namespace: str, domain: str) -> ServiceName | None:
    candidates: list[ServiceName] = []
    parsed = hosts.parse_service_fqdn(text, domain)
    if parsed:
        candidates.append(parsed)
    elif "." not in text:
        candidates.append(ServiceName(text, namespace))
    else:
        name, _, ns = text.partition(".")
        if "." not in ns:
            candidates.append(ServiceName(name, ns))
    return next((c for c in candidates if snapshot.get("services", c.namespace, c.name) is not None), None)


def _backends(snapshot: Snapshot, declaring: list[dict[str, Any]], domain: str) -> tuple[ServiceName, ...]:
    found: dict[ServiceName, None] = {}
    for obj in declaring:
        if o.kind(obj) in gatewayapi.ROUTE_COLLECTIONS:
            for ref in gatewayapi.backend_refs(obj):
                if ref.is_service and snapshot.get("services", ref.namespace, ref.name) is not None:
                    found[ServiceName(ref.name, ref.namespace)] = None
            continue
        for dest in all_destinations(obj, domain):
            parsed = hosts.parse_service_fqdn(dest.host, domain)
            if parsed and snapshot.get("services", parsed.namespace, parsed.name) is not None:
                found[parsed] = None
    return tuple(found)


def suggest(snapshot: Snapshot, text: str, external: list[str], domain: str, limit: int = 3) -> list[str]:
    """Close matches for an unknown host: the same name in other namespaces first, then spelling."""
    services = [(o.name(s), o.namespace(s)) for s in snapshot.all("services")]
    short = text.split(".")[0]
    same_name = sorted(f"{n}.{ns}" for n, ns in services if n == short)
    by_name: dict[str, list[str]] = {}
    for n, ns in services:
        by_name.setdefault(n, []).append(f"{n}.{ns}")
    spelled = [full for n in difflib.get_close_matches(short, list(by_name), n=limit, cutoff=0.6)
               for full in sorted(by_name[n])]
    spelled += difflib.get_close_matches(text, [h for h in external if h != "*"], n=limit, cutoff=0.6)
    return list(dict.fromkeys(same_name + spelled))[:limit]
