"""The read plan: what a run lists from the API server, declared as rounds.

A round is a pure function from what has been read so far (the snapshot, the asked-for host, the
options) to LIST requests, each tagged with the collections it serves. The checks a command selects
prune the plan: a request is made only when one of the collections it serves is needed by a selected
check, or by the model every check stands on (services and Istio configuration, the control plane,
the mesh config). So `tls` lists no client ConfigMaps and reads no logs, and the benchmark's kubectl
floor is derived from the requests a run actually made (MESHDOCTOR_STATS), not from a second list.

Rounds for `host` (each depends on the one before):
  1. configuration: Services, Istio configuration, Namespaces, the control plane's Deployments
  2. the host: its pods by its Services' selectors, their Endpoints by name, the mesh ConfigMap, the
     proxies of the Gateways routing to it (any namespace, by the Gateways' selectors)
  3. its callers: ConfigMaps (NGINX configs) and a page of pods in the client namespaces; the Nodes of
     the host's pods when a subset selects on locality labels
  4. the pods that mount an NGINX config aimed at the host, and istiod's pods when probing
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kubectl_meshdoctor.checks.base import Check
from kubectl_meshdoctor.cluster.fetch import ListRequest
from kubectl_meshdoctor.cluster.resources import (
    CITADEL_SELECTOR,
    CONTROL_PLANE_SELECTOR,
    CollectionStatus,
    State,
)
from kubectl_meshdoctor.mesh import nginx
from kubectl_meshdoctor.mesh.ambient import GATEWAY_NAME, USE_WAYPOINT, ZTUNNEL_SELECTOR, asks_ambient
from kubectl_meshdoctor.mesh.endpointlabels import needs_locality
from kubectl_meshdoctor.mesh.gatewayapi import ROUTE_COLLECTIONS, gateway_parents
from kubectl_meshdoctor.mesh.settings import MeshSettings, mesh_config_ref, read_mesh_settings
from kubectl_meshdoctor.mesh.target import Target, resolve_target, target_pods, target_services
from kubectl_meshdoctor.mesh.views import RoutingModel, build_model
from kubectl_meshdoctor.mesh.workloads import label_selector_string, selecting_gateways, service_selector
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

CONFIGURATION = ("services", "virtualservices", "destinationrules", "gateways", "serviceentries", "sidecars",
                 "peerauthentications", "policies", "meshpolicies")
# The Gateway API's routes and grants: read with the configuration, cluster-wide (a route in any
# namespace may attach to a Gateway or a Service of another).
GATEWAY_API_ROUTING = (*ROUTE_COLLECTIONS.values(), "referencegrants")
# What the model reads whatever the checks: host resolution, visibility, settings and version.
MODEL = frozenset({*CONFIGURATION, "namespaces", "deployments", "configmaps", *GATEWAY_API_ROUTING})
CLIENT_POD_SAMPLE = 100  # pods listed per client namespace (one page), to pick client sidecars from


@dataclass(frozen=True)
class Read:
    """One planned LIST, or (request None) a collection with nothing to list, recorded as read."""

    collection: str
    serves: frozenset[str]
    request: ListRequest | None = None
    nothing_because: str = ""
    # no later round reads it: it may still be arriving while they run, and be analysed as it arrives
    streamed: bool = False

    @classmethod
    def list(cls, request: ListRequest, *serves: str) -> Read:
        return cls(request.resource, frozenset(serves or (request.resource,)), request)

    @classmethod
    def nothing(cls, collection: str, why: str, *serves: str) -> Read:
        return cls(collection, frozenset(serves or (collection,)), None, why)


@dataclass(frozen=True)
class Seen:
    """What a round may look at: the snapshot so far and what the user asked."""

    snapshot: Snapshot
    namespace: str                 # the user's namespace (-n, else the context's)
    host: str = ""                 # `host` and `tls` only
    domain: str = "cluster.local"
    scope: str | None = None       # `scan`/`snapshot`: one namespace, or None for all
    client_namespaces: tuple[str, ...] = ()  # --client-namespace

    @cached_property
    def target(self) -> Target:
        return resolve_target(self.snapshot, self.host, self.namespace, self.domain)

    @cached_property
    def settings(self) -> MeshSettings:
        return read_mesh_settings(self.snapshot, self.domain)

    @cached_property
    def routing(self) -> RoutingModel:
        """The routing model of the host over this round's snapshot, built once per round."""
        return build_model(self.snapshot, self.settings, self.target)


Round = Callable[[Seen], list[Read]]


@dataclass(frozen=True)
class ReadPlan:
    rounds: tuple[tuple[str, Round], ...]  # (progress message, round)
    needed: frozenset[str] = field(default_factory=frozenset)

    def reads(self, round_: Round, seen: Seen) -> list[Read]:
        return [r for r in round_(seen) if r.serves & self.needed]


def needed_by(checks: Iterable[Check], logs: bool, probe: bool) -> frozenset[str]:
    """The collections a run reads: the model's, and what the selected checks need or use; logs and
    port-forwards only when asked for."""
    wanted = set(MODEL)
    for chk in checks:
        wanted |= chk.collections | set(chk.uses)
    if not logs:
        wanted.discard("podlogs")
    if not probe:
        wanted -= {"portforward", "istiodpods"}
    return frozenset(wanted)


def configuration(seen: Seen) -> list[Read]:
    return [*(Read.list(ListRequest(key)) for key in CONFIGURATION), Read.list(ListRequest("namespaces")),
            Read.list(ListRequest("deployments", label_selector=CONTROL_PLANE_SELECTOR)),
            Read.list(ListRequest("deployments", label_selector=CITADEL_SELECTOR)),
            Read.list(ListRequest("k8sgateways")), Read.list(ListRequest("gatewayclasses")),
            *(Read.list(ListRequest(key)) for key in GATEWAY_API_ROUTING)]


def ambient_proxies(seen: Seen, pods: list[dict[str, Any]]) -> list[Read]:
    """ztunnel's pods when some of these pods ask for ambient, the waypoints' pods when some label asks
    for a waypoint: by label in every namespace (a few pods per node and per waypoint). A scan of every
    namespace has them among its pods already."""
    if seen.scope is None and not seen.host:
        return [Read.nothing("ztunnelpods", "(every pod was read)"),
                Read.nothing("waypointpods", "(every pod was read)")]
    snapshot = seen.snapshot
    ambient = any(asks_ambient(snapshot, p) for p in pods)
    labelled = [*pods, *snapshot.all("services"), *snapshot.all("namespaces")]
    waypoints = any(USE_WAYPOINT in o.labels(obj) for obj in labelled)
    return [Read.list(ListRequest("ztunnelpods", None, label_selector=ZTUNNEL_SELECTOR)) if ambient else
            Read.nothing("ztunnelpods", "(no pod asks for ambient mode)"),
            Read.list(ListRequest("waypointpods", None, label_selector=GATEWAY_NAME)) if waypoints else
            Read.nothing("waypointpods", "(no istio.io/use-waypoint label)")]


def _mesh_config(snapshot: Snapshot) -> Read:
    namespace, name = mesh_config_ref(snapshot)
    return Read.list(ListRequest("configmaps", namespace, field_selector=f"metadata.name={name}"))


def _gateway_proxies(snapshot: Snapshot, gateways: tuple[str, ...], why_none: str) -> list[Read]:
    """Gateway proxies may run in any namespace: one cluster-wide list per Gateway selector."""
    selectors = dict.fromkeys(label_selector_string(service_selector(gw)) for _, gw in
                              selecting_gateways(snapshot, gateways))
    if not selectors:
        return [Read.nothing("gatewaypods", why_none, "gatewaypods", "podlogs")]
    return [Read.list(ListRequest("gatewaypods", None, label_selector=s), "gatewaypods", "podlogs") for s in selectors]


def host_workloads(seen: Seen) -> list[Read]:
    target = seen.target
    gateway_api = [Read.list(ListRequest("gatewaypods", ns, label_selector=f"{GATEWAY_NAME}={name}"), "gatewaypods",
                             "podlogs") for ns, name in gateway_parents(seen.snapshot, target.host, target.services)]
    reads = gateway_api if gateway_api and not seen.routing.gateways else \
        [*_gateway_proxies(seen.snapshot, seen.routing.gateways, "(no gateway routes to the host)"), *gateway_api]
    for ref in target.services:
        svc = seen.snapshot.get("services", ref.namespace, ref.name)
        reads.append(Read.list(ListRequest("endpoints", ref.namespace, field_selector=f"metadata.name={ref.name}")))
        selector = service_selector(svc) if svc else {}
        if selector:
            reads.append(Read.list(ListRequest("pods", ref.namespace, label_selector=label_selector_string(selector)),
                                   "pods", "podlogs"))
    return [*reads, _mesh_config(seen.snapshot)]


def clients(seen: Seen) -> list[Read]:
    """ConfigMaps that may hold NGINX configs, and a sample of pods whose sidecars' logs show the
    outbound side, in the namespaces that likely call the host; the host pods' Nodes when a subset
    selects on locality."""
    namespaces = seen.routing.client_namespaces(seen.namespace, seen.client_namespaces)
    return [*(Read.list(ListRequest("appconfigmaps", ns)) for ns in namespaces),
            *(Read.list(ListRequest("clientpods", ns, max_items=CLIENT_POD_SAMPLE), "podlogs", "portforward")
              for ns in namespaces),  # their logs; with --probe, their configuration from istiod
            *_locality_nodes(seen), *ambient_proxies(seen, target_pods(seen.snapshot, seen.target))]


def _locality_nodes(seen: Seen) -> list[Read]:
    """istiod gives endpoints their Node's region and zone as labels; they are read, by name, only when
    some subset selects on them."""
    if not any(needs_locality(o.as_dict(o.as_dict(s).get("labels")))
               for dr in seen.snapshot.all("destinationrules") for s in o.as_list(o.spec(dr).get("subsets"))):
        return [Read.nothing("nodes", "(no subset selects on locality labels)")]
    names = sorted({o.as_str(o.dig(p, "spec", "nodeName")) for p in target_pods(seen.snapshot, seen.target)} - {""})
    return [Read.list(ListRequest("nodes", None, field_selector=f"metadata.name={n}")) for n in names] or [
        Read.nothing("nodes", "(the host's pods are on no node yet)")]


def nginx_and_istiod(seen: Seen) -> list[Read]:
    target, settings = seen.target, seen.settings
    services = target_services(seen.snapshot, target)
    hits = dict.fromkeys(o.namespace(cm) for cm, _ in nginx.http10_hits(seen.snapshot, target.host, services,
                                                                          seen.domain))
    reads = [Read.list(ListRequest("nginxpods", ns)) for ns in hits] or [
        Read.nothing("nginxpods", "(no NGINX config proxies to the host)")]
    cp = settings.control_plane
    reads.append(Read.list(ListRequest("istiodpods", cp.namespace if cp else settings.root_namespace,
                                       label_selector=CONTROL_PLANE_SELECTOR)))
    return reads


def scope_everything(seen: Seen) -> list[Read]:
    """`scan` and `snapshot`, first round: the configuration and every Pod, Endpoints and ConfigMap in
    the scope (one namespace, or all). None of them depends on another, so the pods (most of the
    bytes) are not kept waiting for the configuration round."""
    pods = Read.list(ListRequest("pods", seen.scope), "pods", "podlogs")
    # Every pod of the cluster, by far the biggest read, is read by no later round (scope_proxies asks no
    # pod when the scope is every namespace): a scan analyses hosts while it arrives (run/early.py).
    return [*configuration(seen), dataclasses.replace(pods, streamed=seen.scope is None),
            Read.list(ListRequest("endpoints", seen.scope)), Read.list(ListRequest("appconfigmaps", seen.scope))]


def scope_proxies(seen: Seen) -> list[Read]:
    """Then what the configuration names: the mesh config's ConfigMap and the gateways' proxies."""
    gateways = tuple(f"{o.namespace(g)}/{o.name(g)}" for g in seen.snapshot.all("gateways"))
    proxies = [Read.nothing("gatewaypods", "(every pod was read)", "gatewaypods", "podlogs")] if seen.scope is None \
        else _gateway_proxies(seen.snapshot, gateways, "(no Gateway selects proxies)")  # all namespaces: had them
    return [_mesh_config(seen.snapshot), *proxies,
            Read.nothing("nginxpods", "(every pod in scope was read)"),
            *ambient_proxies(seen, list(seen.snapshot.all("pods")))]


HOST_ROUNDS: tuple[tuple[str, Round], ...] = (
    ("reading services and Istio configuration", configuration),
    ("reading the host's pods and endpoints", host_workloads),
    ("reading the client namespaces", clients),
    ("reading NGINX and istiod pods", nginx_and_istiod),
)
SCOPE_ROUNDS: tuple[tuple[str, Round], ...] = (
    ("reading services, Istio configuration, pods and endpoints", scope_everything),
    ("reading the mesh config and gateway proxies", scope_proxies),
)


def recorded(read: Read) -> CollectionStatus:
    """A collection with nothing to list is read, and empty."""
    return CollectionStatus(read.collection, State.OK, read.nothing_because)

