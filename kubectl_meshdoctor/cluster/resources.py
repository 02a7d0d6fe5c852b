"""The Kubernetes and Istio collections meshdoctor reads, keyed the same way everywhere.

The cluster fetcher, the file loader, the snapshot and the checks all name a collection by its
`key` ("pods", "virtualservices"), so a check can declare what it needs and a run can report a
forbidden or missing collection against the checks that depended on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Resource:
    key: str
    kind: str
    group: str
    versions: tuple[str, ...]  # preferred first; the first one the server serves is used
    namespaced: bool = True
    plural: str = ""      # the API path segment (default: the key)
    stores_as: str = ""   # the snapshot index its objects join (default: the key)
    declared: bool | None = None  # kept in files by people (None: the Istio kinds are)
    label: str = ""       # how the report names it (default: plural.group)
    # A CRD many clusters do not install, whose absence is an answer: not served means none exist
    # (the Gateway API routes: a cluster without the HTTPRoute CRD has no HTTPRoute).
    none_unless_served: bool = False

    @property
    def path_name(self) -> str:
        return self.plural or self.key

    @property
    def index(self) -> str:
        return self.stores_as or self.key

    @property
    def is_istio(self) -> bool:
        return self.group.endswith("istio.io")

    @property
    def is_configuration(self) -> bool:
        """Declared by people (and kept in files); the rest is runtime state only a cluster has."""
        return self.is_istio if self.declared is None else self.declared

    def describe(self) -> str:
        if self.label:
            return self.label
        return self.path_name if not self.group else f"{self.path_name}.{self.group}"


NETWORKING = ("v1", "v1beta1", "v1alpha3")
CONTROL_PLANE_SELECTOR = "istio=pilot"  # istio-pilot (<=1.4) and istiod (1.5+) Deployments and pods carry it
CITADEL_SELECTOR = "istio=citadel"  # istio-citadel (<=1.4): its args say how often certificates rotate
DEFAULT_ROOT_NAMESPACE = "istio-system"
SECURITY = ("v1", "v1beta1")

RESOURCES: tuple[Resource, ...] = (
    Resource("namespaces", "Namespace", "", ("v1",), namespaced=False),
    Resource("services", "Service", "", ("v1",)),
    # The Nodes of the host's pods, read by name only when a subset selects on locality labels, which
    # istiod derives from them (mesh/endpointlabels.py).
    Resource("nodes", "Node", "", ("v1",), namespaced=False),
    Resource("endpoints", "Endpoints", "", ("v1",)),
    Resource("pods", "Pod", "", ("v1",)),
    # Gateway proxies, listed by the Gateways' selectors in every namespace: read on their own, so a user
    # who may list pods only in the app's namespace still gets the host's pod checks.
    Resource("gatewaypods", "Pod", "", ("v1",), plural="pods", stores_as="pods", label="gateway pods"),
    Resource("configmaps", "ConfigMap", "", ("v1",)),
    # ConfigMaps in the client namespaces (NGINX configs that proxy to the host): configuration, so a
    # world of files without any has none. The pods that mount one are read only when one does.
    Resource("appconfigmaps", "ConfigMap", "", ("v1",), plural="configmaps", stores_as="configmaps",
             declared=True, label="configmaps (client namespaces)"),
    Resource("nginxpods", "Pod", "", ("v1",), plural="pods", stores_as="pods", label="pods mounting NGINX configs"),
    # A sample of the pods in the client namespaces, whose sidecars' logs show the outbound side.
    Resource("clientpods", "Pod", "", ("v1",), plural="pods", stores_as="pods", label="client pods"),
    Resource("istiodpods", "Pod", "", ("v1",), plural="pods", stores_as="pods", label="istiod pods"),
    # Not collections: the logs and port-forward subresources, reported like one.
    Resource("podlogs", "Pod", "", ("v1",), plural="pods/log", stores_as="podlogs", label="pods/log"),
    Resource("portforward", "Pod", "", ("v1",), plural="pods/portforward", stores_as="portforward",
             label="pods/portforward"),
    # Proxies' configuration read with --probe (Envoy admin /config_dump, istiod /debug/config_dump): not a
    # collection either.
    # "Declared" so that a run that does not read it (offline, no --probe) has nothing missing.
    Resource("proxyconfigs", "Pod", "", ("v1",), plural="pods/portforward", stores_as="proxyconfigs", declared=True,
             label="proxies' configuration (Envoy admin /config_dump, istiod /debug/config_dump)"),
    Resource("deployments", "Deployment", "apps", ("v1",)),
    Resource("virtualservices", "VirtualService", "networking.istio.io", NETWORKING),
    Resource("destinationrules", "DestinationRule", "networking.istio.io", NETWORKING),
    Resource("gateways", "Gateway", "networking.istio.io", NETWORKING),
    Resource("serviceentries", "ServiceEntry", "networking.istio.io", NETWORKING),
    Resource("sidecars", "Sidecar", "networking.istio.io", NETWORKING),
    Resource("peerauthentications", "PeerAuthentication", "security.istio.io", SECURITY),
    Resource("policies", "Policy", "authentication.istio.io", ("v1alpha1",)),
    Resource("meshpolicies", "MeshPolicy", "authentication.istio.io", ("v1alpha1",), namespaced=False),
    # The Kubernetes Gateway API: ambient waypoints are its Gateways (class istio-waypoint), whose status
    # says whether they are ready; their traffic type may come from the GatewayClass.
    Resource("k8sgateways", "Gateway", "gateway.networking.k8s.io", ("v1", "v1beta1"), plural="gateways",
             declared=True, label="gateways.gateway.networking.k8s.io"),
    Resource("gatewayclasses", "GatewayClass", "gateway.networking.k8s.io", ("v1", "v1beta1"), namespaced=False,
             declared=True, label="gatewayclasses.gateway.networking.k8s.io"),
    # Its routes (HTTPRoute and GRPCRoute are v1; TCPRoute v1alpha2 and TLSRoute v1alpha2/v1alpha3 are in
    # the experimental channel) and the ReferenceGrants that admit references across namespaces
    # (gateway-api v1.4 config/crd). A route CRD that is not installed holds no route.
    Resource("httproutes", "HTTPRoute", "gateway.networking.k8s.io", ("v1", "v1beta1"), declared=True,
             none_unless_served=True, label="httproutes.gateway.networking.k8s.io"),
    Resource("grpcroutes", "GRPCRoute", "gateway.networking.k8s.io", ("v1",), declared=True,
             none_unless_served=True, label="grpcroutes.gateway.networking.k8s.io"),
    Resource("tcproutes", "TCPRoute", "gateway.networking.k8s.io", ("v1alpha2",), declared=True,
             none_unless_served=True, label="tcproutes.gateway.networking.k8s.io"),
    Resource("tlsroutes", "TLSRoute", "gateway.networking.k8s.io", ("v1alpha3", "v1alpha2"), declared=True,
             none_unless_served=True, label="tlsroutes.gateway.networking.k8s.io"),
    Resource("referencegrants", "ReferenceGrant", "gateway.networking.k8s.io", ("v1beta1",), declared=True,
             none_unless_served=True, label="referencegrants.gateway.networking.k8s.io"),
    # ztunnel (one per node) and the waypoints' proxies, wherever they run: listed by label, like gateway pods.
    Resource("ztunnelpods", "Pod", "", ("v1",), plural="pods", stores_as="pods", label="ztunnel pods"),
    Resource("waypointpods", "Pod", "", ("v1",), plural="pods", stores_as="pods", label="waypoint pods"),
)

BY_KEY: dict[str, Resource] = {r.key: r for r in RESOURCES}
_BY_GROUP_KIND: dict[tuple[str, str], Resource] = {(r.group, r.kind): r for r in RESOURCES if not r.stores_as}


def resource_for(api_version: str, kind: str) -> Resource | None:
    """The collection an object belongs to, from its apiVersion and kind (Gateway is ambiguous
    without the group: the Gateway API has one too)."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return _BY_GROUP_KIND.get((group, kind))


class State(StrEnum):
    """How reading one collection went. Anything but OK means checks that need it are skipped."""

    OK = "ok"
    FORBIDDEN = "forbidden"
    NOT_SERVED = "not-served"
    ERROR = "error"
    ABSENT = "absent"  # offline: the input files hold no object of this (runtime) kind
    PARTIAL = "partial"  # read, but not all of it (some namespaces forbidden, some pods' logs unreadable)


@dataclass(frozen=True)
class CollectionStatus:
    resource: str
    state: State
    scope: str = ""  # "in bookinfo", "in all namespaces", "in the input files"
    message: str = ""

    @property
    def ok(self) -> bool:
        """Readable: what was read can be used (it may be partial)."""
        return self.state in (State.OK, State.PARTIAL)

    @property
    def complete(self) -> bool:
        return self.state == State.OK

    def reason(self) -> str:
        """One line for a skipped check: 'forbidden: list pods in bookinfo'."""
        verb = "get" if BY_KEY[self.resource].path_name.count("/") else "list"
        what = f"{verb} {BY_KEY[self.resource].describe()} {self.scope}".rstrip()
        if self.state == State.NOT_SERVED:
            return f"not served by the API server: {BY_KEY[self.resource].describe()}"
        if self.state == State.ABSENT:
            return f"no {BY_KEY[self.resource].kind} objects {self.scope or 'in the input files'}"
        if self.state == State.PARTIAL:
            return f"partly read: {what}; {self.message}"
        detail = f" ({self.message})" if self.message else ""
        return f"{self.state}: {what}{detail}"

    def worse(self, other: CollectionStatus) -> CollectionStatus:
        """Several reads of one collection (different namespaces): keep the one that failed, else the
        partial one."""
        return self if self._badness() >= other._badness() else other

    def _badness(self) -> int:
        return 0 if self.complete else 1 if self.ok else 2
