"""What a proxy actually holds: an Envoy `/config_dump` (or istiod's `/debug/config_dump?proxyID=`),
reduced to what the model predicts, so that a prediction becomes a confirmed fact or a named
disagreement (issue 23).

The dump is Envoy's admin ConfigDump (envoy/admin/v3/config_dump.proto): a list of typed `configs`,
each an Any with `@type`. Read here:
- ClustersConfigDump (`dynamic_active_clusters[].cluster`, `static_clusters[].cluster`): each cluster's
  name (Istio's `outbound|PORT|SUBSET|HOST`) and upstream TLS: `transport_socket_matches` whose first
  entry matches `tlsMode: istio` is auto mTLS (Istio's cluster builder, pilot/pkg/networking/core/
  cluster_tls.go: mTLS to pods labelled tlsMode=istio, plaintext to the rest); a `transport_socket`
  with an UpstreamTlsContext whose certificate is the SDS secret `default` is ISTIO_MUTUAL; another
  UpstreamTlsContext is SIMPLE or MUTUAL; none (or raw_buffer) is plaintext.
- RoutesConfigDump (`dynamic_route_configs[].route_config`): per virtual host (`HOST:PORT` on a
  sidecar) its routes, each with the Istio config that produced it (`metadata.filter_metadata.istio.
  config`, `/apis/networking.istio.io/VERSION/namespaces/NS/virtual-service/NAME`).
- ListenersConfigDump: the clusters `tcp_proxy` filters forward to (ports handled as TCP), and the
  inbound listener's per-port chains: which transport protocols (tls, raw_buffer) a pod port accepts.
- BootstrapConfigDump: the node id, `sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN`, names the pod.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubectl_meshdoctor.errors import InputFileError
from kubectl_meshdoctor.snapshot import objects as o

AUTO, ISTIO_MUTUAL, TLS, PLAINTEXT = "auto (mTLS to tlsMode=istio pods)", "ISTIO_MUTUAL", "TLS (SIMPLE or MUTUAL)", \
    "plaintext"
_CONFIG = re.compile(r"/apis/[^/]+/[^/]+/namespaces/([^/]+)/virtual-service/([^/]+)$")
MAX_DUMP_BYTES = 256 << 20


@dataclass(frozen=True)
class DumpRoute:
    match: str
    clusters: tuple[str, ...]
    source: str  # "ns/name" of the VirtualService that produced it, "" when none says


@dataclass(frozen=True)
class ProxyConfig:
    namespace: str
    pod: str
    source: str  # the file it was read from
    clusters: dict[str, str] = field(default_factory=dict)  # name -> upstream TLS (AUTO, ISTIO_MUTUAL, ...)
    virtual_hosts: dict[str, tuple[DumpRoute, ...]] = field(default_factory=dict)  # "HOST:PORT" -> routes
    tcp_clusters: frozenset[str] = frozenset()  # clusters a listener's tcp_proxy forwards to (TCP handling)
    inbound: dict[int, frozenset[str]] = field(default_factory=dict)  # pod port -> transport protocols accepted

    def inbound_mode(self, port: int) -> str:
        """What the inbound filter chains of a pod port accept: mTLS only (STRICT), both (PERMISSIVE),
        plaintext only (DISABLE); "" when the dump has no chain for the port or one that matches any."""
        accepted = self.inbound.get(port, frozenset())
        if not accepted or "any" in accepted:
            return ""
        return {frozenset({"tls"}): "STRICT", frozenset({"raw_buffer"}): "DISABLE"}.get(accepted, "PERMISSIVE")

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.pod}"

    def clusters_for(self, host: str) -> list[str]:
        return sorted(c for c in self.clusters if c.startswith("outbound|") and c.endswith(f"|{host}"))


def read_config_dump(spec: str) -> ProxyConfig:
    """`--config-dump [NS/POD=]FILE`: the pod is taken from the dump's bootstrap node when not given."""
    pod_ref, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
    file = Path(path)
    try:
        if file.stat().st_size > MAX_DUMP_BYTES:
            raise InputFileError(f"{path}: more than {MAX_DUMP_BYTES >> 20} MiB; not a single proxy's config_dump")
        doc = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"{path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise InputFileError(f"{path}: not a JSON config_dump ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("configs"), list):
        raise InputFileError(f"{path}: not an Envoy config_dump (no `configs` list)")
    namespace, pod = _pod_of(doc, pod_ref, path)
    return parse_config_dump(doc, namespace, pod, path)


def _pod_of(doc: dict[str, Any], given: str, path: str) -> tuple[str, str]:
    if given:
        namespace, _, pod = given.partition("/")
        if namespace and pod:
            return namespace, pod
        raise InputFileError(f"--config-dump {given}={path}: name the pod as NAMESPACE/POD")
    for config in _configs(doc, "BootstrapConfigDump"):
        node = o.as_str(o.dig(config, "bootstrap", "node", "id"))
        parts = node.split("~")
        if len(parts) == 4 and "." in parts[2]:
            pod, _, namespace = parts[2].rpartition(".")
            return namespace, pod
    raise InputFileError(f"{path}: the dump names no pod (no bootstrap node id); give it as "
                         f"--config-dump NAMESPACE/POD={path}")


def _configs(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in map(o.as_dict, o.as_list(doc.get("configs"))) if o.as_str(c.get("@type")).endswith(kind)]


def parse_config_dump(doc: dict[str, Any], namespace: str, pod: str, source: str) -> ProxyConfig:
    clusters: dict[str, str] = {}
    for config in _configs(doc, "ClustersConfigDump"):
        for entry in [*o.as_list(config.get("static_clusters")), *o.as_list(config.get("dynamic_active_clusters"))]:
            cluster = o.as_dict(o.as_dict(entry).get("cluster"))
            if o.as_str(cluster.get("name")):
                clusters[o.as_str(cluster.get("name"))] = upstream_tls(cluster)
    hosts: dict[str, tuple[DumpRoute, ...]] = {}
    for config in _configs(doc, "RoutesConfigDump"):
        for entry in [*o.as_list(config.get("static_route_configs")), *o.as_list(config.get("dynamic_route_configs"))]:
            route_config = o.as_dict(o.as_dict(entry).get("route_config"))
            for vhost in map(o.as_dict, o.as_list(route_config.get("virtual_hosts"))):
                routes = map(o.as_dict, o.as_list(vhost.get("routes")))
                hosts[o.as_str(vhost.get("name"))] = tuple(_route(r) for r in routes)
    return ProxyConfig(namespace, pod, source, clusters, hosts, frozenset(_tcp_proxy_clusters(doc)),
                       _inbound_chains(doc))


def _listeners(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [o.as_dict(o.dig(entry, "active_state", "listener") or o.as_dict(entry).get("listener"))
            for config in _configs(doc, "ListenersConfigDump")
            for entry in [*o.as_list(config.get("static_listeners")), *o.as_list(config.get("dynamic_listeners"))]]


def _inbound_chains(doc: dict[str, Any]) -> dict[int, frozenset[str]]:
    """The `virtualInbound` listener's per-port chains (`destination_port`, `transport_protocol` tls or
    raw_buffer: Istio's inbound listener, pilot/pkg/networking/core/listener_inbound.go); 15006 itself is
    the listener's own port."""
    out: dict[int, set[str]] = {}
    for listener in _listeners(doc):
        if o.as_str(listener.get("name")) != "virtualInbound":
            continue
        for chain in map(o.as_dict, o.as_list(listener.get("filter_chains"))):
            match = o.as_dict(chain.get("filter_chain_match"))
            port = match.get("destination_port")
            if isinstance(port, int) and port != 15006:
                out.setdefault(port, set()).add(o.as_str(match.get("transport_protocol")) or "any")
    return {port: frozenset(found) for port, found in out.items()}


def _tcp_proxy_clusters(doc: dict[str, Any]) -> list[str]:
    """The clusters of `envoy.filters.network.tcp_proxy` filters (a port handled as TCP); an HTTP port is
    one whose host has a virtual host in the route configuration instead."""
    return [o.as_str(o.as_dict(flt.get("typed_config")).get("cluster"))
            for listener in _listeners(doc) for chain in map(o.as_dict, o.as_list(listener.get("filter_chains")))
            for flt in map(o.as_dict, o.as_list(chain.get("filters")))
            if o.as_str(flt.get("name")) in ("envoy.filters.network.tcp_proxy", "envoy.tcp_proxy")]


def upstream_tls(cluster: dict[str, Any]) -> str:
    matches = [o.as_dict(m) for m in o.as_list(cluster.get("transport_socket_matches"))]
    if matches and o.as_dict(matches[0].get("match")).get("tlsMode") == "istio":
        return AUTO
    socket = o.as_dict(cluster.get("transport_socket"))
    typed = o.as_dict(socket.get("typed_config"))
    if not socket or not o.as_str(typed.get("@type")).endswith("UpstreamTlsContext"):
        return PLAINTEXT
    certs = o.as_list(o.dig(typed, "common_tls_context", "tls_certificate_sds_secret_configs"))
    return ISTIO_MUTUAL if any(o.as_dict(c).get("name") == "default" for c in certs) else TLS


def _route(route: dict[str, Any]) -> DumpRoute:
    match = o.as_dict(route.get("match"))
    shown = next((f"{k} {match[k]}" for k in ("path", "prefix", "safe_regex", "path_separated_prefix")
                  if k in match), "any")
    action = o.as_dict(route.get("route"))
    clusters = (o.as_str(action.get("cluster")),) if action.get("cluster") else tuple(
        o.as_str(o.as_dict(w).get("name")) for w in o.as_list(o.dig(action, "weighted_clusters", "clusters")))
    found = _CONFIG.search(o.as_str(o.dig(route, "metadata", "filter_metadata", "istio", "config")))
    return DumpRoute(shown, clusters, f"{found.group(1)}/{found.group(2)}" if found else "")
