"""The report's sections as types: what each client namespace gets (routing), client vs server TLS,
what Istio makes of each port (workloads), who accepts HTTP/1.0, and what the logs show (symptoms).

Built here from the mesh model, so mesh/ computes and never formats; read by the renderers as
attributes and turned into the JSON contract by report/serialize.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.checks.attribution import Attributed
from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import gatewayapi
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.mesh.ambient import dataplane_mode
from kubectl_meshdoctor.mesh.inventory import proxy_version
from kubectl_meshdoctor.mesh.protocol import derive
from kubectl_meshdoctor.mesh.proxyconfig import Http10State
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.symptoms import LogSummary
from kubectl_meshdoctor.mesh.target import EXTERNAL, Target
from kubectl_meshdoctor.mesh.tls import TlsRow
from kubectl_meshdoctor.mesh.views import RoutingModel
from kubectl_meshdoctor.report.serialize import key
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.evidence import PodLog

# ------------------------------------------------------------------------------------------ routing


@dataclass(frozen=True)
class Route:
    from_: str = field(metadata=key("from"))
    match: str = ""
    catch_all: bool = False
    destinations: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeshRoutes:
    in_effect: str
    ignored: tuple[str, ...]
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class RulesInEffect:
    found_in: str | None
    host: str | None
    rules: tuple[str, ...]
    subsets: tuple[str, ...]
    traffic_policy_from: str | None
    discarded: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ClientRouting:
    client_namespace: str
    why: tuple[str, ...]
    virtual_service: MeshRoutes | None
    destination_rule: RulesInEffect | None
    sidecar: str = ""  # the Sidecar resource that scopes what these proxies import, if any


@dataclass(frozen=True)
class GatewayRouting:
    gateway: str
    fragments: tuple[str, ...]
    routes: tuple[Route, ...]
    virtual_host: str = ""     # the server-host intersection Envoy answers the host from
    proxy_namespace: str = ""  # where the gateway's proxies run: their view of the configuration


@dataclass(frozen=True)
class Routing:
    host: str
    views: tuple[ClientRouting, ...]
    gateways: tuple[GatewayRouting, ...]


def routing_section(model: RoutingModel) -> Routing:
    """Per client view, the VirtualService in effect with its routes and the DestinationRule in effect
    with its subsets; per gateway, the merged fragments."""
    views = []
    # An external host is reached through gateways; sidecar views of it would only say "none".
    for view in model.views if model.target.kind != EXTERNAL else ():
        sel = model.mesh_selection(view)
        mesh = None
        if sel.winner is not None:
            routes, _ = vss.routes_for(sel.winner.vs, vss.MESH, model.domain, model.delegates)
            mesh = MeshRoutes(sel.winner.ref, tuple(c.ref for c in sel.ignored), tuple(map(_route, routes)))
        scope = model.sidecar_scope(view.namespace)
        views.append(ClientRouting(view.namespace, tuple(view.reasons), mesh, _rules(model.dr_lookup(view)),
                                   scope.describe() if scope.sidecar is not None else ""))
    gateways = []
    for gw in model.gateways:
        for merged in model.gateway_merges(gw):
            if merged.fragments and merged.virtual_host:
                gateways.append(GatewayRouting(gw, tuple(f.ref for f in merged.fragments),
                                               tuple(map(_route, merged.routes)), merged.virtual_host,
                                               merged.proxy_namespace))
    return Routing(model.host, tuple(views), (*gateways, *_gateway_api(model)))


def _gateway_api(model: RoutingModel) -> list[GatewayRouting]:
    """The Gateway API's merged routes for the host, shown like a gateway's merged fragments, each rule
    named by its route."""
    found = gatewayapi.RouteIndex.of(model.snapshot).about_target(model.host, model.target.services)
    out = []
    for merged in gatewayapi.merged_routes(model.snapshot, found, model.domain):
        routes = tuple(Route(m.origin, m.match.describe(), m.catch_all, _backends(m.backends, model.domain))
                       for m in merged.matches)
        out.append(GatewayRouting(merged.parent, tuple(f"{o.kind(r)} {o.ref(r)}" for r in merged.routes),
                                  routes, merged.hostname, merged.proxy_namespace))
    return out


def _backends(backends: tuple[gatewayapi.BackendRef, ...], domain: str) -> tuple[str, ...]:
    total = sum(b.weight for b in backends)
    return tuple(f"{b.host(domain) if b.is_service else b.name}:{b.port}" + (f" ({b.weight * 100 // total}%)"
                                                                           if len(backends) > 1 and total else "")
                 for b in backends)


def _route(route: vss.HttpRoute) -> Route:
    return Route(route.origin, route.describe(), route.catch_all, tuple(d.describe() for d in route.destinations))


def _rules(lookup: drs.DRLookup) -> RulesInEffect | None:
    merged = lookup.merged
    if merged is None:
        return None
    return RulesInEffect(
        f"{lookup.step} {lookup.namespace}" if lookup.namespace else lookup.step, lookup.pattern,
        tuple(drs.dr_ref(r) for r in merged.rules),
        tuple(f"{s.name} (from {drs.dr_ref(s.rule)})" for s in merged.subsets),
        drs.dr_ref(merged.policy_from) if merged.policy_from else None,
        tuple([f"subset {lost.name} of {drs.dr_ref(lost.rule)}" for lost, _ in merged.duplicate_subsets]
              + [f"trafficPolicy of {drs.dr_ref(r)}" for r, _ in merged.discarded_policies]),
        tuple(lookup.notes))

# ---------------------------------------------------------------------------------------------- tls


@dataclass(frozen=True)
class TlsEndpoint:
    pod: str
    server: str
    sent: str
    verdict: str


@dataclass(frozen=True)
class TlsCheckRow:
    """One row of `tls`: a client namespace x HOST:PORT[|subset]."""

    host: str
    port: Any
    subset: str | None
    client_namespace: str
    status: str
    server: str
    client: str
    authn_policy: str
    destination_rule: str
    endpoints: tuple[TlsEndpoint, ...]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" + (f"|{self.subset}" if self.subset else "")


def tls_section(rows: list[TlsRow]) -> tuple[TlsCheckRow, ...]:
    return tuple(TlsCheckRow(
        row.host, row.port.get("port"), row.subset or None, row.client_ns, row.status, row.server_label(),
        row.client.label(), row.policy_label(), row.rule_label(),
        tuple(TlsEndpoint(o.name(e.pod), e.server.mode, e.sent, e.verdict) for e in row.endpoints)) for row in rows)

# ---------------------------------------------------------------------------------------- workloads


@dataclass(frozen=True)
class PortView:
    port: Any
    name: Any
    target_port: Any
    app_protocol: Any
    protocol: str
    reason: str


@dataclass(frozen=True)
class ServiceView:
    service: str
    type: Any
    selector: dict[str, str]
    ports: tuple[PortView, ...]


@dataclass(frozen=True)
class PodView:
    pod: str
    ready: bool
    sidecar: bool
    proxy_version: str | None
    labels: dict[str, str]
    dataplane: str = "none"  # sidecar | ambient (captured by ztunnel) | not-captured (ambient asked) | none
    dataplane_reason: str = ""


@dataclass(frozen=True)
class Workloads:
    services: tuple[ServiceView, ...]
    pods: tuple[PodView, ...] | None  # None: pods could not be read


def workloads_section(snapshot: Snapshot, settings: MeshSettings, target: Target) -> Workloads:
    services, pods = [], []
    for ref in target.services:
        svc = snapshot.get("services", ref.namespace, ref.name)
        if svc is None:
            continue
        ports = []
        for port in map(o.as_dict, o.as_list(o.spec(svc).get("ports"))):
            derived = derive(port, settings.version)
            ports.append(PortView(port.get("port"), port.get("name"), port.get("targetPort"),
                                  port.get("appProtocol"), derived.protocol, derived.reason))
        services.append(ServiceView(f"{ref.namespace}/{ref.name}", o.spec(svc).get("type", "ClusterIP"),
                                    w.service_selector(svc), tuple(ports)))
        if snapshot.readable("pods"):
            for pod in w.service_pods(snapshot, svc):
                mode = dataplane_mode(snapshot, pod)
                pods.append(PodView(f"{o.namespace(pod)}/{o.name(pod)}", w.pod_ready(pod), w.has_sidecar(pod),
                                    proxy_version(pod), o.labels(pod), mode.shown, mode.reason))
    return Workloads(tuple(services), tuple(pods) if snapshot.readable("pods") else None)

# ------------------------------------------------------------------------------------------- http10


@dataclass(frozen=True)
class Http10Receiver:
    namespace: str
    pod: str
    role: str
    accepts_http10: bool
    why: str


def http10_section(states: list[Http10State]) -> tuple[Http10Receiver, ...]:
    return tuple(Http10Receiver(s.namespace, s.pod, s.role, s.accepts, s.why) for s in states)

# ----------------------------------------------------------------------------------------- symptoms


@dataclass(frozen=True)
class SymptomEntry:
    direction: str
    code: int
    flags: tuple[str, ...]
    details: str
    port: int | None
    subset: str | None
    count: int
    first: str
    last: str
    sample: str
    pods: tuple[str, ...]
    upstream_failure: str | None
    explained_by: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class LogWindow:
    """What was read of one proxy's log: the window, the newest lines asked for, the bytes that came."""

    pod: str
    role: str
    since_seconds: int
    tail_lines: int
    bytes: int
    cut: bool  # even the shortened tail did not fit --log-bytes: older lines of the window are missing


@dataclass(frozen=True)
class Symptoms:
    window: str
    proxies_read: int = 0
    access_log_lines: int = 0
    for_host: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    unparsed_lines: int = 0
    entries: tuple[SymptomEntry, ...] = ()
    not_read: str = ""  # why the logs could not be read at all
    logs_read: tuple[LogWindow, ...] = ()
    logs_not_read: str = ""  # the pods whose logs could not be read, and why

    def to_data(self) -> dict[str, Any]:
        from kubectl_meshdoctor.report.serialize import to_data

        if self.not_read:
            return {"window": self.window, "notRead": self.not_read, "entries": []}
        return {"window": self.window, "proxiesRead": self.proxies_read, "accessLogLines": self.access_log_lines,
                "forHost": self.for_host, "byClass": dict(self.by_class), "unparsedLines": self.unparsed_lines,
                "entries": to_data(self.entries), "logsRead": to_data(self.logs_read),
                "logsNotRead": self.logs_not_read or None}


def symptoms_section(summary: LogSummary, attributed: list[Attributed], logs: tuple[PodLog, ...],
                     since_seconds: int, not_read: str) -> Symptoms:
    entries = tuple(SymptomEntry(
        s.direction, s.code, s.flags, s.details, s.port, s.subset or None, s.count, s.first, s.last, s.sample,
        s.pods, s.failure or None, tuple(dict.fromkeys(f"{f.entry.code} {f.entry.id}" for f in a.explained_by)),
        a.explanation)
        for a in attributed for s in (a.symptom,))
    windows = tuple(LogWindow(f"{log.namespace}/{log.pod}", log.role, since_seconds, log.tail_lines, log.size,
                              log.truncated) for log in logs)
    return Symptoms(summary.window, summary.pods, summary.lines, summary.for_host, dict(summary.by_class),
                    summary.unparsed, entries, logs_read=windows, logs_not_read=not_read)
