"""A snapshot from the live cluster, in two parallel rounds.

Round one reads what every host run needs and what does not depend on the host: Services and Istio
configuration in all namespaces (small), namespaces, and the control plane's Deployment. Round two
reads what only this host needs, narrowed on the server: the pods of its Services' selectors, their
Endpoints by name, and the mesh ConfigMap. Listing all pods would cost seconds at 10k pods
(PERF-FLOOR.md); listing the selected ones costs a tenth of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.cluster.api import RawApi
from kubectl_meshdoctor.cluster.fetch import (
    Discovery,
    ListRequest,
    ListResult,
    check_access,
    discover,
    list_collections,
)
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions, connect
from kubectl_meshdoctor.cluster.resources import (
    BY_KEY,
    CITADEL_SELECTOR,
    CONTROL_PLANE_SELECTOR,
    DEFAULT_ROOT_NAMESPACE,
    CollectionStatus,
    State,
)
from kubectl_meshdoctor.errors import ClusterError
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.model import Snapshot

ROUND_ONE = ("services", "virtualservices", "destinationrules", "gateways", "serviceentries",
             "peerauthentications", "policies", "meshpolicies")
ProgressFn = Callable[[str], None]


@dataclass
class LiveReader:
    """Reads the cluster and keeps every collection's outcome for the report."""

    api: RawApi
    context: str | None
    namespace: str
    progress: ProgressFn = lambda _msg: None
    discovery: Discovery | None = None
    server_version: str = ""
    results: list[ListResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, kube: KubeOptions, progress: ProgressFn = lambda _msg: None) -> LiveReader:
        """Connected, with the host-independent round read, for every command that reads the cluster.
        Credentials that can read nothing at all are one clear error (exit 3), not a report of skips."""
        conn = connect(kube)
        reader = cls(RawApi(conn.api_client, conn.timeout), conn.context, conn.namespace, progress)
        reader.start()
        reader.read_round_one()
        reader._fail_if_nothing_readable()
        if not reader.discovery or not reader.discovery.serves_istio():
            reader.notes.append("Istio is not installed in this cluster (no *.istio.io API): mesh checks skipped")
        return reader

    def _fail_if_nothing_readable(self) -> None:
        states = [r.status.state for r in self.results]
        if states and all(s in (State.FORBIDDEN, State.NOT_SERVED) for s in states) and State.FORBIDDEN in states:
            raise ClusterError("forbidden: these credentials cannot list anything meshdoctor needs "
                               "(services, Istio configuration); ask for read access (the `view` ClusterRole)")
        errors = [r for r in self.results if r.status.state == State.ERROR]
        if errors and len(errors) == len(self.results):
            raise ClusterError(f"the API server failed every request: {errors[0].status.message}")

    def start(self) -> None:
        self.progress("contacting the API server")
        self.server_version = o.as_str(check_access(self.api).get("gitVersion"))
        self.discovery = discover(self.api)

    def read_round_one(self) -> None:
        self.progress("reading services and Istio configuration")
        requests = [ListRequest(key) for key in ROUND_ONE]
        requests += [ListRequest("namespaces"), ListRequest("deployments", label_selector=CONTROL_PLANE_SELECTOR),
                     ListRequest("deployments", label_selector=CITADEL_SELECTOR)]
        self._read(requests)
        self._retry_forbidden_in(self.namespace, DEFAULT_ROOT_NAMESPACE)

    def read_round_two(self, services: Iterable[tuple[str, str, dict[str, str]]],
                       mesh_config: tuple[str, str], gateway_selectors: Iterable[str] = ()) -> None:
        """services: (namespace, name, selector) of each Service behind the host; gateway_selectors: the
        label selectors of the Gateways that route to it (their proxies may run in any namespace)."""
        self.progress("reading the host's pods and endpoints")
        requests = _gateway_pods(gateway_selectors)
        for namespace, name, selector in services:
            requests.append(ListRequest("endpoints", namespace, field_selector=f"metadata.name={name}"))
            if selector:
                requests.append(ListRequest("pods", namespace,
                                            label_selector=",".join(f"{k}={v}" for k, v in sorted(selector.items()))))
        cm_namespace, cm_name = mesh_config
        requests.append(ListRequest("configmaps", cm_namespace, field_selector=f"metadata.name={cm_name}"))
        self._read(requests)
        if not any(r.resource == "gatewaypods" for r in requests):  # no gateway routes here: nothing to read
            self.results.append(ListResult(ListRequest("gatewaypods"), CollectionStatus(
                "gatewaypods", State.OK, "(no gateway routes to the host)")))

    def read_clients(self, namespaces: Iterable[str], sample_pods: int) -> None:
        """Round three of a host run: ConfigMaps (NGINX configs) in the client namespaces, and a sample
        of their pods (a first page, not all: their sidecars' logs are evidence, not inventory)."""
        requests = [ListRequest("appconfigmaps", ns) for ns in namespaces]
        if sample_pods:
            requests += [ListRequest("clientpods", ns, max_items=sample_pods) for ns in namespaces]
        self._read(requests)

    def read_pods_in(self, key: str, namespaces: Iterable[str], label_selector: str = "",
                     why_none: str = "") -> None:
        """All pods of a role in some namespaces; none to read is recorded as read (with why_none)."""
        requests = [ListRequest(key, ns, label_selector=label_selector) for ns in dict.fromkeys(namespaces)]
        self._read(requests)
        if not requests:
            self.record(CollectionStatus(key, State.OK, why_none))

    def record(self, status: CollectionStatus) -> None:
        """The outcome of something read outside a LIST (logs, port-forwards), reported the same way."""
        self.results.append(ListResult(ListRequest(status.resource), status))

    def read_scope(self, namespace: str | None, mesh_config: tuple[str, str],
                   gateway_selectors: Iterable[str]) -> None:
        """For `scan` and `snapshot`: every Pod and Endpoints in the scope (one namespace, or all)."""
        self.progress("reading pods and endpoints")
        cm_namespace, cm_name = mesh_config
        self._read([ListRequest("pods", namespace), ListRequest("endpoints", namespace),
                    ListRequest("configmaps", cm_namespace, field_selector=f"metadata.name={cm_name}"),
                    ListRequest("appconfigmaps", namespace), *_gateway_pods(gateway_selectors)])
        self.record(CollectionStatus("nginxpods", State.OK, "(every pod in scope was read)"))

    def snapshot(self, overlay: Iterable[tuple[str, dict[str, Any]]] = (), mode: str = "live") -> Snapshot:
        statuses: dict[str, CollectionStatus] = {}
        objects: list[tuple[str, dict[str, Any]]] = []
        for result in self.results:
            key = result.request.resource
            statuses[key] = result.status.worse(statuses[key]) if key in statuses else result.status
            index = BY_KEY[key].index
            objects.extend((index, item) for item in result.items)
        objects.extend(overlay)
        return Snapshot.build(objects, statuses, mode, self.context, self.server_version)

    def _read(self, requests: list[ListRequest]) -> None:
        assert self.discovery is not None, "start() first"
        for result in list_collections(self.api, self.discovery, requests):
            if result.request.resource == "appconfigmaps":  # keep NGINX configs; drop other apps' settings unread
                result.items = [cm for cm in result.items if _may_proxy(cm)]
            self.results.append(result)

    def _retry_forbidden_in(self, *namespaces: str) -> None:
        """Many on-call users may read only some namespaces. A collection forbidden cluster-wide is
        read again in the user's namespace and the root namespace, and the report says the view is partial."""
        forbidden = [r for r in self.results
                     if r.status.state == State.FORBIDDEN and r.request.namespace is None and r.request.resource
                     not in ("namespaces", "meshpolicies")]
        if not forbidden:
            return
        self.results = [r for r in self.results if r not in forbidden]
        assert self.discovery is not None
        retried = list_collections(self.api, self.discovery, [
            ListRequest(r.request.resource, ns, r.request.label_selector, r.request.field_selector)
            for r in forbidden for ns in dict.fromkeys(namespaces)])
        for original in forbidden:
            key = original.request.resource
            readable = [r for r in retried if r.request.resource == key and r.status.ok]
            self.results.extend(readable or [original])
            if readable:
                self.notes.append(f"{key}: forbidden in all namespaces; read only in "
                                  f"{', '.join(str(r.request.namespace) for r in readable)}, "
                                  "objects elsewhere are not seen")


def _may_proxy(configmap: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and "proxy_pass" in v for v in o.as_dict(configmap.get("data")).values())


def _gateway_pods(selectors: Iterable[str]) -> list[ListRequest]:
    """Gateway proxies may run in any namespace: one cluster-wide list per Gateway selector."""
    return [ListRequest("gatewaypods", None, label_selector=sel) for sel in dict.fromkeys(selectors)]
