"""The protocol Istio derives for a Service port, and why (ISTIO-SEMANTICS.md §D, `ConvertProtocol`).

UDP is not proxied. `appProtocol` (1.6+) is used instead of the port name, even when Istio does not
recognise it. `grpc-web` is checked before splitting on `-`; then the part before the first `-` is
parsed case-insensitively. An unrecognised name is TCP on the well-known ports 25, 53, 3306 and
27017, and otherwise sniffed (outbound from 1.3, inbound from 1.5; plain TCP before that).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.snapshot import objects as o

KNOWN = {"tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "grpc-web": "GRPC-Web", "http": "HTTP",
         "http_proxy": "HTTP_PROXY", "http2": "HTTP2", "https": "HTTPS", "tls": "TLS", "mongo": "Mongo",
         "redis": "Redis", "mysql": "MySQL"}
KNOWN_1_0 = ("tcp", "udp", "grpc", "http", "http2", "https", "tls", "mongo", "redis")
KUBERNETES_APP_PROTOCOLS = {"kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS"}
WELL_KNOWN_TCP_PORTS = (25, 53, 3306, 27017)
HTTP_LIKE = ("HTTP", "HTTP2", "GRPC", "GRPC-Web", "HTTP_PROXY")
SNIFFED = "sniffed"

# Ports Envoy and the istio-agent listen on inside every injected pod, and istiod's own.
RESERVED_PORTS = {15000: "Envoy admin", 15001: "Envoy outbound", 15004: "debug", 15006: "Envoy inbound",
                  15008: "HBONE tunnel", 15009: "HBONE (gateways)", 15020: "merged metrics", 15021: "health",
                  15053: "DNS proxy", 15090: "Envoy Prometheus telemetry"}


@dataclass(frozen=True)
class DerivedProtocol:
    protocol: str   # HTTP, TCP, ..., or "sniffed"
    reason: str
    unrecognised_app_protocol: str = ""

    @property
    def sniffed(self) -> bool:
        return self.protocol == SNIFFED

    @property
    def http_like(self) -> bool:
        return self.protocol in HTTP_LIKE


def derive(port: dict[str, Any], version: IstioVersion | None) -> DerivedProtocol:
    """Decided by the port's protocol, number, name and appProtocol alone: a scan asks for every port
    of every host several times, so the answer is kept per distinct port (a few dozen in a cluster)."""
    number = port.get("port")
    return _derive(o.as_str(port.get("protocol")).upper(), number if isinstance(number, int) else None,
                   o.as_str(port.get("name")), o.as_str(port.get("appProtocol")), version)


@functools.lru_cache(maxsize=4096)
def _derive(transport: str, number: int | None, name: str, app: str, version: IstioVersion | None) -> DerivedProtocol:
    if transport == "UDP":
        return DerivedProtocol("UDP", "protocol UDP (not proxied)")
    from_app = bool(app) and (version is None or version.at_least(1, 6))
    label = name
    if from_app:
        if app in KUBERNETES_APP_PROTOCOLS:
            return DerivedProtocol(KUBERNETES_APP_PROTOCOLS[app], f"from appProtocol {app}")
        label = app
    source = f"appProtocol {app}" if from_app else f"name {name!r}" if name else "no name"
    if label.lower().startswith("grpc-web") and (version is None or version.at_least(1, 1)):
        return DerivedProtocol("GRPC-Web", f"from {source} (prefix grpc-web)")
    prefix = label.split("-")[0].lower()
    known = KNOWN_1_0 if version is not None and not version.at_least(1, 1) else KNOWN
    if prefix in known:
        return DerivedProtocol(KNOWN[prefix], f"from {source} (prefix {prefix})")
    unrecognised = app if from_app else ""
    if number in WELL_KNOWN_TCP_PORTS:
        return DerivedProtocol("TCP", f"unrecognised {source}; well-known port {number} -> TCP",
                               unrecognised)
    if version is not None and not version.at_least(1, 3):
        return DerivedProtocol("TCP", f"unrecognised {source} -> TCP (no protocol sniffing before Istio 1.3)",
                               unrecognised)
    return DerivedProtocol(SNIFFED, f"unrecognised {source} -> protocol sniffing", unrecognised)
