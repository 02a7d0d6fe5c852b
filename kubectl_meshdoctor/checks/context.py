"""What every check receives: the snapshot, the mesh settings and the target host."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kubectl_meshdoctor.mesh import gatewayapi
from kubectl_meshdoctor.mesh.ambient import asks_ambient
from kubectl_meshdoctor.mesh.changes import ChangeSet
from kubectl_meshdoctor.mesh.hosts import ServiceName, service_fqdn
from kubectl_meshdoctor.mesh.proxyconfig import Http10State
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.symptoms import HostAddresses, LogSummary, summarise
from kubectl_meshdoctor.mesh.target import EXTERNAL, Target, target_services
from kubectl_meshdoctor.mesh.tls import TlsRow, build_rows
from kubectl_meshdoctor.mesh.views import ClientView, RoutingModel, build_model
from kubectl_meshdoctor.mesh.virtualservices import MESH, all_destinations, vs_gateways
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.evidence import LiveEvidence


class CannotTell(Exception):
    """Raised by a check whose evidence turned out unusable (every probe timed out): skipped, with why."""


class NothingToJudge(Exception):
    """Raised by a check whose question turned out to have no subject here (the proxy configurations
    given hold nothing it compares): not-run, with why, never passed."""


class Superseded(Exception):
    """Raised by a check whose question another finding already answers (no subset can have a ready pod
    when the Service has none): not-run, naming that finding, never passed."""


def reads(*keys: str) -> Callable[[Callable[[Any], str | None]], Callable[[Any], str | None]]:
    """Declares the collections an `applies` predicate looks at: when they are readable it is asked
    before the check's other data, so an inapplicable question is not-run even if that data is missing."""
    def wrap(fn: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        fn.reads = keys  # type: ignore[attr-defined]
        return fn
    return wrap



@dataclass(frozen=True)
class CheckContext:
    snapshot: Snapshot
    settings: MeshSettings
    target: Target
    change: ChangeSet | None = None  # what-if: the live world before the -f files, and those files
    evidence: LiveEvidence = field(default_factory=LiveEvidence)  # logs and probe answers (live runs)

    @property
    def live(self) -> bool:
        return self.snapshot.mode != "offline"

    @cached_property
    def routing(self) -> RoutingModel:
        """Built once per run and shared by the routing, TLS and subset checks."""
        return build_model(self.snapshot, self.settings, self.target)

    @cached_property
    def gate_answers(self) -> dict[Callable[[Any], str | None], str | None]:
        """What each `applies` predicate answered for this host: several checks share one (six ask
        whether every pod is ambient), and each answer is a function of this context alone."""
        return {}

    @cached_property
    def host_pods(self) -> tuple[dict[str, Any], ...]:
        """The pods behind the host (every Service of it), each once: a dozen checks and gates ask."""
        from kubectl_meshdoctor.mesh.workloads import service_pods

        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for svc in self.workload_services:
            for pod in service_pods(self.snapshot, svc):
                seen.setdefault((o.namespace(pod), o.name(pod)), pod)
        return tuple(seen.values())

    @cached_property
    def ambient_pods(self) -> tuple[dict[str, Any], ...]:
        """The pods behind the host that run in, or ask for, ambient mode (mesh/ambient.py asks_ambient):
        the gates of the sidecar and the ambient checks ask, for every host."""
        return tuple(p for p in self.host_pods if asks_ambient(self.snapshot, p))

    @cached_property
    def gateway_routes(self) -> list[dict[str, Any]]:
        """The Gateway API routes about the host (mesh/gatewayapi.py RouteIndex.about): looked up once per
        host, for the MD45x checks and the TLS rows."""
        return gatewayapi.RouteIndex.of(self.snapshot).about_target(self.target.host, self.target.services)

    @cached_property
    def tls_rows(self) -> list[TlsRow]:
        """Client and server TLS for every client view, port and subset of the host's Services. The
        Services behind a gateway host are reached only through the VirtualServices declaring it: their
        clients are the gateway proxies of those VirtualServices (and, when one is bound to the mesh,
        the client views), not every namespace holding a fragment of the host (500 fragments with 500
        backends made 250,000 views)."""
        views = [v for v in self.routing.views if v.has_callers]
        if self.target.kind != EXTERNAL:
            return build_rows(self.snapshot, lambda _service: views, self.target, self.settings,
                              self.routing.lookup_for)
        model, domain = self.routing, self.settings.cluster_domain
        callers: dict[str, dict[str, None]] = {}
        for vs in model.declaring:
            sent_to = {d.host for d in all_destinations(vs, domain)}
            for gateway in vs_gateways(vs):
                senders = [v.namespace for v in views] if gateway == MESH else model.proxy_namespaces(gateway)
                for host in sent_to:
                    callers.setdefault(host, {}).update(dict.fromkeys(senders))
        # a Gateway API Gateway's proxies run in its namespace (Istio's deployment controller puts them there)
        for route in self.gateway_routes:
            gateways = [ns for ns, _ in gatewayapi.gateway_parents_of(self.snapshot, [route])]
            for ref in gatewayapi.backend_refs(route):
                if ref.is_service and gateways:
                    callers.setdefault(ref.host(domain), {}).update(dict.fromkeys(gateways))
        known = {v.namespace: v for v in views}

        def views_of(service: ServiceName) -> list[ClientView]:
            fqdn = service_fqdn(service.name, service.namespace, domain)
            if fqdn not in callers:  # reached some other way (a delegate): every client view, as for a Service
                return views
            return [known.get(ns) or ClientView(ns, (f"its gateway proxies route {self.target.host} here",))
                    for ns in callers[fqdn]]
        return build_rows(self.snapshot, views_of, self.target, self.settings, self.routing.lookup_for)

    @cached_property
    def log_summary(self) -> LogSummary:
        """The proxies' access logs, reduced to the lines about this host (MD601 and the Symptoms)."""
        from kubectl_meshdoctor.mesh.workloads import arrival_addresses, service_names

        if not self.evidence.logs:  # nothing read (a scan, --no-logs, offline): no addresses to work out
            return summarise((), HostAddresses(self.target.host, frozenset(), {}, {}),
                             self.evidence.since)
        virtual, local = arrival_addresses(self.workload_services, host_pods(self))
        names = service_names(self.target.host, self.workload_services, self.target.namespace,
                              self.settings.cluster_domain)
        where = HostAddresses(self.target.host, frozenset(names), virtual, local)
        return summarise(self.evidence.logs, where, self.evidence.since)

    @cached_property
    def http10_receivers(self) -> list[tuple[dict[str, Any], Http10State]]:
        """The proxies that receive requests for the host (its sidecars, inbound; the gateways routing
        to it), each with whether it accepts HTTP/1.0. MD602, MD603 and the report's `http10` use them."""
        from kubectl_meshdoctor.mesh.proxyconfig import http10_state, pilot_http10
        from kubectl_meshdoctor.mesh.workloads import has_sidecar

        version, cp = self.settings.version, self.settings.control_plane
        on = pilot_http10(cp.env, version)[0] if cp else False
        return [*((p, http10_state(p, "server", on, version, self.snapshot)) for p in self.host_pods
                  if has_sidecar(p)),
                *((p, http10_state(p, "gateway", on, version, self.snapshot)) for p in istio_gateway_pods(self))]

    @cached_property
    def workload_services(self) -> list[dict[str, Any]]:
        """The Services behind the host that have endpoints and pods (ExternalName ones resolve by DNS)."""
        return [svc for svc in target_services(self.snapshot, self.target) if o.spec(svc).get("type") != "ExternalName"]


def host_pods(ctx: CheckContext) -> list[dict[str, Any]]:
    """The pods behind the host (every Service of it), each once."""
    return list(ctx.host_pods)


def istio_gateway_pods(ctx: CheckContext) -> list[dict[str, Any]]:
    """The proxies of the Istio Gateways that route to the host (read with the gateways' selectors); with
    those of the Gateway API's Gateways too: RoutingModel.gateway_pods."""
    from kubectl_meshdoctor.mesh.workloads import gateway_proxies

    return gateway_proxies(ctx.snapshot, ctx.routing.gateways)


def app_containers(ctx: CheckContext) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod, container) for every application container (not the proxy) of the pods behind the host."""
    from kubectl_meshdoctor.mesh.workloads import PROXY_CONTAINER, service_pods

    for svc in ctx.workload_services:
        for pod in service_pods(ctx.snapshot, svc):
            for container in o.as_list(o.spec(pod).get("containers")):
                container = o.as_dict(container)
                if container.get("name") != PROXY_CONTAINER:
                    yield pod, container


@reads("services")
def has_workloads(ctx: CheckContext) -> str | None:
    """`applies` for checks about pods and endpoints: not-run, with the reason, when there are none."""
    if ctx.workload_services:
        return None
    if ctx.target.services:
        return f"{ctx.target.host} is an ExternalName Service: resolved by DNS, no endpoints or pods"
    return f"no Service serves {ctx.target.host}"


@reads("services")
def sidecar_workloads(ctx: CheckContext) -> str | None:
    """`applies` for checks about sidecars: not-run when every pod behind the host is ambient (ztunnel
    carries its traffic; MD552 covers those ambient did not capture). Without pods to look at, the
    check runs as before and its own needs decide."""
    not_run = has_workloads(ctx)
    if not_run or not ctx.snapshot.readable("pods"):
        return not_run
    pods = host_pods(ctx)
    if pods and len(ctx.ambient_pods) == len(pods):
        return "not applicable: ambient (every pod behind the host runs without a sidecar, in ambient mode)"
    return None


@reads()
def probed(ctx: CheckContext) -> str | None:
    """`applies` for active probes: not-run unless asked for with --probe."""
    return None if ctx.evidence.probed else "active probe: run with --probe (port-forwards to pods)"
