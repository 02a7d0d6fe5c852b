"""Services, the pods behind them and their endpoints, read the way kube-proxy and Istio read them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

PROXY_CONTAINER = "istio-proxy"


def service_selector(service: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in o.as_dict(o.spec(service).get("selector")).items() if isinstance(v, str)}


def label_selector_string(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def service_pods(snapshot: Snapshot, service: dict[str, Any]) -> list[dict[str, Any]]:
    """Pods a Service selects. A Service without a selector selects none: its endpoints are manual."""
    def build() -> tuple[dict[str, Any], ...]:
        selector = service_selector(service)
        return tuple(sorted(snapshot.select("pods", o.namespace(service), selector), key=o.name)) if selector else ()
    return list(snapshot.derived_for(service, "service-pods", build))


def selecting_services(snapshot: Snapshot, pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The Services of the pod's namespace whose selector picks it, from a map built once per
    snapshot and namespace (a scan asks it for every pod of every host)."""
    ns = o.namespace(pod)

    def build() -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = {}
        for service in snapshot.in_namespace("services", ns):
            for selected in service_pods(snapshot, service):
                found.setdefault(id(selected), []).append(service)
        return found
    return snapshot.derived(("selecting-services", ns), build).get(id(pod), [])


def has_sidecar(pod: dict[str, Any]) -> bool:
    """An istio-proxy container, or (Istio 1.19+ on Kubernetes 1.28+) a native sidecar: an init
    container with restartPolicy Always."""
    pod_spec = o.spec(pod)
    for container in o.as_list(pod_spec.get("containers")):  # plain loops: asked for every pod of every host
        if isinstance(container, dict) and container.get("name") == PROXY_CONTAINER:
            return True
    for container in o.as_list(pod_spec.get("initContainers")):
        if isinstance(container, dict) and container.get("name") == PROXY_CONTAINER and \
                container.get("restartPolicy") == "Always":
            return True
    return False


def proxy_status(pod: dict[str, Any]) -> dict[str, Any]:
    """The istio-proxy container's status (a native sidecar's is among the init containers)."""
    statuses = o.status(pod)
    return next((o.as_dict(cs) for cs in [*o.as_list(statuses.get("containerStatuses")),
                                          *o.as_list(statuses.get("initContainerStatuses"))]
                 if o.as_dict(cs).get("name") == PROXY_CONTAINER), {})


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """Literal env values (valueFrom entries cannot be known from the spec and are left out)."""
    out: dict[str, str] = {}
    for entry in o.as_list(container.get("env")):  # a plain loop: an injected proxy has dozens of entries
        if isinstance(entry, dict) and "value" in entry:
            name, value = entry.get("name"), entry["value"]
            if isinstance(name, str) and name:
                out[name] = value if isinstance(value, str) else ""
    return out


def sidecar_not_ready(pod: dict[str, Any]) -> str:
    """Why the istio-proxy container is not ready ('' when it is, or when the pod has not started yet)."""
    cs = proxy_status(pod)
    if cs.get("ready") is False:
        waiting = o.as_dict(o.as_dict(cs.get("state")).get("waiting"))
        return o.as_str(waiting.get("reason")) or "readiness probe failing"
    return ""


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(o.as_dict(c).get("type") == "Ready" and o.as_dict(c).get("status") == "True"
               for c in o.as_list(o.status(pod).get("conditions")))


def pod_problem(pod: dict[str, Any]) -> str:
    """Why a pod is not ready, in the words `kubectl get pods` would use (CrashLoopBackOff, ...)."""
    status = o.status(pod)
    phase = o.as_str(status.get("phase")) or "Unknown"
    for cs in o.as_list(status.get("containerStatuses")):
        cs = o.as_dict(cs)
        waiting = o.as_dict(o.as_dict(cs.get("state")).get("waiting"))
        if waiting.get("reason"):
            return f"{waiting['reason']} in {cs.get('name')}"
        if cs.get("ready") is False and o.as_dict(cs.get("state")).get("running") is not None:
            return f"readiness probe of {cs.get('name')} failing"
    return phase if phase != "Running" else "not ready"


@dataclass(frozen=True)
class EndpointCounts:
    ready: tuple[str, ...]      # pod names (or IPs when there is no targetRef)
    not_ready: tuple[str, ...]


def endpoint_counts(endpoints: dict[str, Any] | None) -> EndpointCounts:
    ready: list[str] = []
    not_ready: list[str] = []
    for subset in o.as_list(o.as_dict(endpoints).get("subsets")):
        subset = o.as_dict(subset)
        for key, bucket in (("addresses", ready), ("notReadyAddresses", not_ready)):
            for addr in o.as_list(subset.get(key)):
                addr = o.as_dict(addr)
                bucket.append(o.as_str(o.as_dict(addr.get("targetRef")).get("name")) or o.as_str(addr.get("ip")))
    return EndpointCounts(tuple(dict.fromkeys(ready)), tuple(dict.fromkeys(not_ready)))


def namespace_injection(snapshot: Snapshot, namespace: str) -> str:
    """How the namespace asks for injection: 'enabled', 'disabled', 'revision <rev>' or ''."""
    ns = snapshot.get("namespaces", "", namespace)
    labels = o.labels(ns)
    if "istio-injection" in labels:
        return labels["istio-injection"]
    if "istio.io/rev" in labels:
        return f"revision {labels['istio.io/rev']}"
    return ""


def selecting_gateways(snapshot: Snapshot, refs: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """(ns/name, Gateway) for the referenced Gateways that exist and select proxies by label."""
    found = ((ref, snapshot.get("gateways", *ref.split("/", 1))) for ref in dict.fromkeys(refs) if "/" in ref)
    return [(ref, gw) for ref, gw in found if gw is not None and service_selector(gw)]


def gateway_proxies(snapshot: Snapshot, refs: Iterable[str]) -> list[dict[str, Any]]:
    """The pods of the referenced Gateways (by their selectors), each once, sorted."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for _, gw in selecting_gateways(snapshot, refs):
        for pod in snapshot.select_everywhere("pods", service_selector(gw)):
            found.setdefault((o.namespace(pod), o.name(pod)), pod)
    return [found[k] for k in sorted(found)]


def container_port(pod: dict[str, Any], service_port: dict[str, Any]) -> int | None:
    """The pod port a Service port sends to: its targetPort, by number or by the container port's name."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    for container in map(o.as_dict, o.as_list(o.spec(pod).get("containers"))):
        if container.get("name") == PROXY_CONTAINER:
            continue
        for declared in map(o.as_dict, o.as_list(container.get("ports"))):
            number = declared.get("containerPort")
            if declared.get("name") == target and isinstance(number, int):
                return number
    return None


def cluster_ips(service: dict[str, Any]) -> list[str]:
    spec = o.spec(service)
    ips = [spec.get("clusterIP"), *o.as_list(spec.get("clusterIPs"))]
    return list(dict.fromkeys(ip for ip in ips if isinstance(ip, str) and ip and ip != "None"))


def arrival_addresses(services: list[dict[str, Any]],
                      pods: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """ip:port a connection to the host arrives on, as proxies log it (%DOWNSTREAM_LOCAL_ADDRESS%), each
    with the Service port it belongs to: (ClusterIP:port, seen by clients' sidecars; pod IP:targetPort,
    seen by the host's own sidecars)."""
    virtual: dict[str, int] = {}
    local: dict[str, int] = {}
    for svc in services:
        for port in map(o.as_dict, o.as_list(o.spec(svc).get("ports"))):
            number = port.get("port")
            if not isinstance(number, int):
                continue
            virtual.update({f"{ip}:{number}": number for ip in cluster_ips(svc)})
            for pod in pods:
                target = container_port(pod, port)
                ip = o.as_str(o.status(pod).get("podIP"))
                if target:
                    local[f"{ip or '*'}:{target}"] = number  # "*:80": the pod's IP is not known
    return virtual, local


def service_names(host: str, services: list[dict[str, Any]], client_namespace: str, domain: str) -> set[str]:
    """Every way a pod in client_namespace can name the host in DNS, and its ClusterIPs."""
    names = {host}
    for svc in services:
        name, namespace = o.name(svc), o.namespace(svc)
        names |= {f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.{domain}",
                  *cluster_ips(svc)}
        if client_namespace == namespace:
            names.add(name)
    return names


def owner_ref(pod: dict[str, Any]) -> str:
    """`deployment/NAME` for a pod of a ReplicaSet (the pod-template hash dropped), else `pod/NAME`: what
    to restart so the pod is created again."""
    for ref in o.as_list(o.meta(pod).get("ownerReferences")):
        ref = o.as_dict(ref)
        owner = o.as_str(ref.get("name"))
        if ref.get("kind") == "ReplicaSet" and "-" in owner:
            return f"deployment/{owner.rsplit('-', 1)[0]}"
        if ref.get("kind") in ("StatefulSet", "DaemonSet") and owner:
            return f"{ref['kind'].lower()}/{owner}"
    return f"pod/{o.name(pod)}"


def recreate_commands(pods: Iterable[dict[str, Any]]) -> str:
    """The commands that create these pods again, one per owner: `kubectl rollout restart` for what a
    controller owns, `kubectl delete pod` for a bare pod."""
    owners = sorted({(owner_ref(p), o.namespace(p)) for p in pods})
    return "; ".join(f"`kubectl rollout restart {x} -n {ns}`" if not x.startswith("pod/")
                     else f"`kubectl delete {x} -n {ns}`" for x, ns in owners)
