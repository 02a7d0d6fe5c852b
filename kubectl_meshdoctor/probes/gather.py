"""The host run's reads after the objects: client namespaces, NGINX configs, proxy logs, probes.

Which pods to ask depends on the objects already read (the host's pods, the gateways routing to it,
the namespaces whose rules mention it), so this runs after round two and before the checks. Every
read is bounded: a few pods per role, a time window and a byte cap per log, a deadline per probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.cluster.resources import CollectionStatus, State
from kubectl_meshdoctor.mesh.ambient import asks_ambient
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.symptoms import ZTUNNEL
from kubectl_meshdoctor.mesh.target import Target, target_pods
from kubectl_meshdoctor.mesh.views import RoutingModel
from kubectl_meshdoctor.mesh.workloads import has_sidecar, owner_ref, pod_ready
from kubectl_meshdoctor.probes.logs import LogRequest, read_logs
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.evidence import HttpProbe, LiveEvidence, PodLog, PortAnswer
from kubectl_meshdoctor.snapshot.live import LiveReader

HOST_POD_LOGS = 10      # the host's own sidecars (inbound)
GATEWAY_POD_LOGS = 6
ZTUNNEL_POD_LOGS = 6    # the ztunnels on the nodes of the host's ambient pods (inbound, and their outbound)
CLIENT_POD_LOGS = 20
CONFIG_CLIENTS = 3  # client proxies whose configuration --probe reads (and one of the host's own)
CONFIG_GATEWAYS = 2  # gateway proxies whose configuration --probe reads (one per deployment)
CLIENT_POD_SAMPLE = 100  # pods listed per client namespace (one page), to pick client sidecars from


@dataclass(frozen=True)
class EvidenceOptions:
    logs: bool = True
    since_seconds: int = 900
    since: str = "15m"
    log_bytes: int = 512 * 1024
    probe: bool = False
    client_namespaces: tuple[str, ...] = ()


def gather(reader: LiveReader, snapshot: Snapshot, settings: MeshSettings, target: Target, routing: RoutingModel,
           options: EvidenceOptions) -> LiveEvidence:
    logs: tuple[PodLog, ...] = ()
    notes: list[str] = []
    if options.logs:
        requests, sampled = _log_requests(snapshot, target, routing, reader.namespace, options)
        read, status = read_logs(reader.api, requests, options.since_seconds, options.log_bytes)
        reader.record(status)
        logs = tuple(read)
        notes += sampled
        cut = [f"{log.namespace}/{log.pod}" for log in read if log.truncated]
        if cut:
            notes.append(f"proxy logs cut at {options.log_bytes} bytes (--log-bytes): {', '.join(cut[:5])}")
    http_probes: tuple[HttpProbe, ...] = ()
    syncz: tuple[PortAnswer, ...] = ()
    proxy_configs: tuple[Any, ...] = ()
    if options.probe:
        from kubectl_meshdoctor.probes.active import (
            portforward_status,
            probe_config_dumps,
            probe_http_ports,
            probe_syncz,
        )

        client = reader.api.api_client
        http_probes = tuple(probe_http_ports(client, snapshot, settings, target))
        istiods = [p for p in snapshot.all("pods") if o.labels(p).get("istio") == "pilot"]
        syncz = tuple(probe_syncz(client, istiods, settings))
        configs, unread, status = probe_config_dumps(
            client, istiods, settings, _config_clients(snapshot, target, routing, reader.namespace, options))
        proxy_configs = tuple(configs)
        reader.record(status)
        reader.record(portforward_status([p.answer for p in http_probes]))
        notes += unread + [f"probe {p.answer.namespace}/{p.answer.pod}:{p.answer.port}: {p.answer.error}"
                           for p in http_probes if p.answer.error]
    else:
        reader.record(CollectionStatus("proxyconfigs", State.OK, "(not asked for: --probe)"))
    return LiveEvidence(logs, options.logs, options.since, options.since_seconds, http_probes, syncz, options.probe,
                        tuple(notes), proxy_configs)


def _config_clients(snapshot: Snapshot, target: Target, routing: RoutingModel, current: str,
                    options: EvidenceOptions) -> list[dict[str, Any]]:
    """One ready client proxy per client namespace (at most CONFIG_CLIENTS), one of the host's own and one
    per gateway deployment routing to it (at most CONFIG_GATEWAYS), whose configuration is read: the model
    predicts per client namespace, per server pod (what it accepts) and per gateway, so one proxy each
    tells whether it holds."""
    host = _host_pods(snapshot, target)
    chosen = []
    for ns in routing.client_namespaces(current, options.client_namespaces):
        ready = [p for p in snapshot.in_namespace("pods", ns) if has_sidecar(p) and pod_ready(p)
                 and (o.namespace(p), o.name(p)) not in host]
        if ready:
            chosen.append(min(ready, key=o.name))
        if len(chosen) == CONFIG_CLIENTS:
            break
    own = [p for p in host.values() if has_sidecar(p) and pod_ready(p)]  # and one of the host's own (MD804)
    gateways: dict[str, dict[str, Any]] = {}  # and one ready proxy per gateway deployment routing to the host
    for pod in sorted(routing.gateway_pods.values(), key=lambda p: (o.namespace(p), o.name(p))):
        if pod_ready(pod) and len(gateways) < CONFIG_GATEWAYS:
            gateways.setdefault(f"{o.namespace(pod)}/{owner_ref(pod)}", pod)
    return [*chosen, *([min(own, key=o.name)] if own else []), *gateways.values()]


def _host_pods(snapshot: Snapshot, target: Target) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o.namespace(p), o.name(p)): p for p in target_pods(snapshot, target)}


def _log_requests(snapshot: Snapshot, target: Target, routing: RoutingModel, current: str,
                  options: EvidenceOptions) -> tuple[list[LogRequest], list[str]]:
    notes: list[str] = []
    host = _host_pods(snapshot, target)
    servers = _pick([p for p in host.values() if has_sidecar(p)], HOST_POD_LOGS, "the host's", notes)
    gateways = routing.gateway_pods
    gateway_list = _pick(list(gateways.values()), GATEWAY_POD_LOGS, "gateway", notes)
    namespaces = set(routing.client_namespaces(current, options.client_namespaces))
    clients = [p for p in snapshot.all("pods") if o.namespace(p) in namespaces and has_sidecar(p)
               and (o.namespace(p), o.name(p)) not in host and (o.namespace(p), o.name(p)) not in gateways]
    client_list = _pick(clients, CLIENT_POD_LOGS, "client", notes)
    nodes = {o.as_str(o.spec(p).get("nodeName")) for p in host.values() if asks_ambient(snapshot, p)}
    ztunnels = [p for p in snapshot.select_everywhere("pods", {"app": "ztunnel"})
                if o.as_str(o.spec(p).get("nodeName")) in nodes]
    ztunnel_list = _pick(ztunnels, ZTUNNEL_POD_LOGS, "ztunnel", notes)
    requests = [LogRequest(o.namespace(p), o.name(p), "server") for p in servers]
    requests += [LogRequest(o.namespace(p), o.name(p), "gateway") for p in gateway_list]
    requests += [LogRequest(o.namespace(p), o.name(p), "client") for p in client_list]
    requests += [LogRequest(o.namespace(p), o.name(p), ZTUNNEL) for p in ztunnel_list]
    return requests, notes


def _pick(pods: list[dict[str, Any]], limit: int, role: str, notes: list[str]) -> list[dict[str, Any]]:
    """Ready pods first (they carry the traffic), then by name, at most `limit`."""
    ordered = sorted(pods, key=lambda p: (not pod_ready(p), o.namespace(p), o.name(p)))
    if len(ordered) > limit:
        notes.append(f"read the proxy logs of {limit} of {len(ordered)} {role} pods")
    return ordered[:limit]
