"""Host names as Istio reads them (ISTIO-SEMANTICS.md §B.1).

A name with no dot is a short name, resolved in the namespace of the object that *declares* it
(not the Service's); anything with a dot is taken literally, so `reviews.foo` is not
`reviews.foo.svc.cluster.local`. `*` and IP addresses stay as they are.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


def is_ip(host: str) -> bool:
    if not host or not (host[0].isdigit() or ":" in host):  # fast path: names start with a letter or '*'
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, declaring_namespace: str, domain: str) -> str:
    if not host or "." in host or host == "*" or is_ip(host):
        return host
    return f"{host}.{declaring_namespace}.svc.{domain}"


def service_fqdn(name: str, namespace: str, domain: str) -> str:
    return f"{name}.{namespace}.svc.{domain}"


@dataclass(frozen=True)
class ServiceName:
    name: str
    namespace: str


def parse_service_fqdn(host: str, domain: str) -> ServiceName | None:
    """`name.ns.svc.<domain>` (or `name.ns.svc`) -> the Service it names; anything else -> None."""
    for suffix in (f".svc.{domain}", ".svc"):
        if host.endswith(suffix):
            parts = host[: -len(suffix)].split(".")
            if len(parts) == 2 and all(parts):
                return ServiceName(parts[0], parts[1])
    return None


def wildcard_matches(pattern: str, host: str) -> bool:
    """Istio's wildcard hosts: `*.example.com` covers `a.example.com` and `a.b.example.com`;
    a bare `*` covers everything."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host
