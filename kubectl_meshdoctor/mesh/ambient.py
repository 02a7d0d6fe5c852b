"""Istio's ambient data plane: which pods ztunnel captures, and which waypoint serves a Service.

Sources (istio/istio 1.28.0 unless said; ambient is beta in 1.22 and GA in 1.24):
- Capture. istio-cni enrols a pod that matches its enablement selectors (manifests/charts/istio-cni/
  values.yaml `ambient.enablementSelectors`: the pod labelled `istio.io/dataplane-mode=ambient`, or the
  namespace labelled so and the pod not labelled `none`), never a pod with a sidecar (cni/pkg/util/
  podutil.go podHasSidecar) nor a hostNetwork pod, and marks the pod with the annotation
  `ambient.istio.io/redirection: enabled` once ztunnel took it over (`pending` while no ztunnel has
  accepted it yet: such a pod sends and receives nothing). istiod and istioctl treat that annotation as
  the proof of capture (pilot/pkg/serviceregistry/kube/controller/ambient/workloads.go,
  istioctl/pkg/util/ambient/util.go InAmbient). ztunnel runs as a DaemonSet, pods labelled
  `app=ztunnel` (cni/pkg/util/podutil.go IsZtunnelPod).
- Waypoints (ambient/waypoints.go). `istio.io/use-waypoint` on the Service (or pod), else on its
  namespace, names a Gateway (`istio.io/use-waypoint-namespace` overrides its namespace; the value
  `none` opts out). The Gateway serves only once its status has an address (its Deployment had a
  ready pod); otherwise istiod reports it not ready and the Service gets no waypoint. Its traffic type
  is the Gateway's `istio.io/waypoint-for` label, else its GatewayClass's, else `service`; a Service
  needs `service` or `all`, a pod `workload` or `all`. Waypoint pods carry
  `gateway.networking.k8s.io/gateway-name`.
- L7 without a waypoint. ztunnel is a layer-4 proxy: VirtualService http routes and DestinationRule
  policies are applied by Envoys only (sidecars, gateways, waypoints), so ambient clients of a
  Service without a waypoint ignore them (istio.io docs, ambient/usage/l7-features).
- Sidecars and gateways send HBONE (mutual TLS to ztunnel's port 15008) to captured endpoints, whatever
  their DestinationRule says, when istiod runs with ambient (pilot/pkg/xds/endpoints/endpoint_builder.go
  supportTunnel; PILOT_ENABLE_SENDING_HBONE, 1.22+); ztunnel enforces the PeerAuthentication of the
  pod it fronts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.mesh.workloads import has_sidecar, pod_ready
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

DATAPLANE_MODE = "istio.io/dataplane-mode"
REDIRECTION = "ambient.istio.io/redirection"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
WAYPOINT_FOR = "istio.io/waypoint-for"
WAYPOINT_CLASS = "istio-waypoint"
GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name"
ZTUNNEL_SELECTOR = "app=ztunnel"
FIRST_AMBIENT = IstioVersion(1, 22, 0)  # beta: sidecars send HBONE to captured pods from here on

SIDECAR, AMBIENT, NONE, NOT_CAPTURED = "sidecar", "ambient", "none", "not-captured"


@dataclass(frozen=True)
class DataplaneMode:
    mode: str       # sidecar | ambient (captured by ztunnel) | none
    reason: str
    asked: bool     # the pod or its namespace asks for ambient (and the pod does not opt out)
    pending: bool   # istio-cni set up the redirection but no ztunnel took the pod yet

    @property
    def uncaptured(self) -> bool:
        """Asked for ambient, yet neither ztunnel nor a sidecar carries its traffic."""
        return self.asked and self.mode == NONE

    @property
    def shown(self) -> str:
        """How reports name it: the mode, or `not-captured` when ambient was asked for and did not happen."""
        return NOT_CAPTURED if self.uncaptured else self.mode


def dataplane_mode(snapshot: Snapshot, pod: dict[str, Any]) -> DataplaneMode:
    """Once per pod and snapshot: the TLS rows, the ambient checks and their gates all ask, for every host."""
    return snapshot.derived_for(pod, "dataplane-mode", lambda: _dataplane_mode(snapshot, pod))


def _dataplane_mode(snapshot: Snapshot, pod: dict[str, Any]) -> DataplaneMode:
    ns = snapshot.get("namespaces", "", o.namespace(pod))
    pod_label = o.label(pod, DATAPLANE_MODE)
    ns_label = o.label(ns, DATAPLANE_MODE) if ns is not None else None
    asked = pod_label == AMBIENT or (ns_label == AMBIENT and pod_label != NONE)
    where = "" if not asked else (f"pod label {DATAPLANE_MODE}=ambient" if pod_label == AMBIENT
                                  else f"namespace {o.namespace(pod)} labelled {DATAPLANE_MODE}=ambient")
    redirection = o.annotation(pod, REDIRECTION) or ""
    if has_sidecar(pod):
        return DataplaneMode(SIDECAR, "istio-proxy sidecar" + (
            f" ({where}, but istio-cni never captures a pod with a sidecar)" if asked else ""), asked, False)
    if o.spec(pod).get("hostNetwork") is True:
        return DataplaneMode(NONE, "hostNetwork pods are never captured", False, False)
    if redirection == "enabled":
        return DataplaneMode(AMBIENT, f"captured by ztunnel ({REDIRECTION}: enabled)", asked, False)
    if redirection == "pending":
        return DataplaneMode(NONE, f"{REDIRECTION}: pending: istio-cni redirected it, but no ztunnel has "
                             "taken it over, so it sends and receives nothing", asked, True)
    if asked:
        return DataplaneMode(NONE, f"{where}, but the pod has no {REDIRECTION} annotation: istio-cni has not "
                             "captured it", asked, False)
    if pod_label == NONE:
        return DataplaneMode(NONE, f"pod label {DATAPLANE_MODE}=none opts out of ambient", False, False)
    return DataplaneMode(NONE, "no sidecar and not captured by ambient", False, False)


def is_ambient(snapshot: Snapshot, pod: dict[str, Any]) -> bool:
    return dataplane_mode(snapshot, pod).mode == AMBIENT


def asks_ambient(snapshot: Snapshot, pod: dict[str, Any]) -> bool:
    """Ambient was asked for the pod and no sidecar overrides it: captured or meant to be."""
    mode = dataplane_mode(snapshot, pod)
    return mode.mode == AMBIENT or mode.uncaptured


def namespace_is_ambient(snapshot: Snapshot, namespace: str) -> bool:
    """Clients in this namespace are ztunnel-captured by default (no sidecar injection asked)."""
    ns = snapshot.get("namespaces", "", namespace)
    if ns is None:
        return False
    labels = o.labels(ns)
    return labels.get(DATAPLANE_MODE) == AMBIENT and labels.get("istio-injection") != "enabled" \
        and not labels.get("istio.io/rev")


@dataclass(frozen=True)
class WaypointUse:
    """A waypoint named for a Service or pod, and whether it serves."""

    ref: str          # namespace/name of the Gateway asked for
    named_by: str     # which label on which object
    gateway: dict[str, Any] | None
    traffic_type: str
    ready_pods: tuple[str, ...]
    problem: str      # '' when it serves this kind of traffic
    breaks: str       # what happens to the traffic when it does not
    unknown: str = ""  # why whether it serves cannot be told (files without its status or pods)

    @property
    def serves(self) -> bool:
        return not self.problem


def waypoint_for_service(snapshot: Snapshot, service: dict[str, Any]) -> WaypointUse | None:
    return _waypoint_for(snapshot, service, "Service", ("service", "all"))


def waypoint_for_pod(snapshot: Snapshot, pod: dict[str, Any]) -> WaypointUse | None:
    return _waypoint_for(snapshot, pod, "Pod", ("workload", "all"))


def _waypoint_for(snapshot: Snapshot, obj: dict[str, Any], kind: str, accepted: tuple[str, ...]) -> WaypointUse | None:
    """fetchWaypointForTarget: the object's own label first (`none` opts out), then its namespace's."""
    own = o.labels(obj)
    ns = o.namespace(obj)
    if USE_WAYPOINT in own:
        if own[USE_WAYPOINT] == NONE:
            return None
        named = (own.get(USE_WAYPOINT_NAMESPACE) or ns, own[USE_WAYPOINT])
        by = f"label {USE_WAYPOINT}={own[USE_WAYPOINT]} on {kind} {ns}/{o.name(obj)}"
    else:
        namespace = snapshot.get("namespaces", "", ns)
        labels = o.labels(namespace) if namespace is not None else {}
        if not labels.get(USE_WAYPOINT) or labels[USE_WAYPOINT] == NONE:
            return None
        named = (labels.get(USE_WAYPOINT_NAMESPACE) or ns, labels[USE_WAYPOINT])
        by = f"label {USE_WAYPOINT}={labels[USE_WAYPOINT]} on Namespace {ns}"
    return _judge(snapshot, f"{named[0]}/{named[1]}", by, accepted, kind)


def _judge(snapshot: Snapshot, ref: str, by: str, accepted: tuple[str, ...], kind: str) -> WaypointUse:
    ns, _, name = ref.partition("/")
    gateway = snapshot.get("k8sgateways", ns, name)
    bypass = ("ztunnel sends the traffic straight to the pods: the host's L7 rules (VirtualService routes, "
              "DestinationRule policies) and the authorization policies the waypoint enforces are not applied")
    if gateway is None:
        return WaypointUse(ref, by, None, "", (), f"Gateway {ref} does not exist", bypass)
    pods = tuple(o.name(p) for p in snapshot.select("pods", ns, {GATEWAY_NAME: name}) if pod_ready(p))
    klass = o.as_str(o.spec(gateway).get("gatewayClassName"))
    traffic = _traffic_type(snapshot, gateway, klass)
    if klass != WAYPOINT_CLASS:
        return WaypointUse(ref, by, gateway, traffic, pods, f"Gateway {ref} is of class {klass or '(none)'}, not "
                           f"{WAYPOINT_CLASS}: no waypoint proxy runs for it", "ztunnel sends the traffic over "
                           "HBONE to a proxy that does not terminate it: connections fail")
    addresses = o.as_list(o.status(gateway).get("addresses"))
    if not addresses and "status" in gateway:
        return WaypointUse(ref, by, gateway, traffic, pods, f"waypoint {ref} is not ready: its status has no "
                           "address (its Deployment never had a ready pod)", bypass)
    if traffic not in accepted:
        return WaypointUse(ref, by, gateway, traffic, pods, f"waypoint {ref} is for {traffic} traffic "
                           f"({WAYPOINT_FOR}), not {kind.lower()} traffic", bypass)
    if not pods and snapshot.readable("waypointpods"):
        return WaypointUse(ref, by, gateway, traffic, pods, f"waypoint {ref} has no ready pod",
                           "ztunnel sends the traffic to the waypoint, which has no ready pod to take it: "
                           "connections fail")
    unknown = "" if addresses or pods else (
        f"whether waypoint {ref} is ready is unknown: its Gateway has no status and its pods were not read")
    return WaypointUse(ref, by, gateway, traffic, pods, "", "", unknown)


def _traffic_type(snapshot: Snapshot, gateway: dict[str, Any], klass: str) -> str:
    own = o.labels(gateway).get(WAYPOINT_FOR)
    if own:
        return own
    gateway_class = snapshot.get("gatewayclasses", "", klass)
    return (o.labels(gateway_class).get(WAYPOINT_FOR) if gateway_class is not None else None) or "service"


def ztunnel_nodes(snapshot: Snapshot) -> dict[str, bool]:
    """Node name -> whether a ztunnel pod there is ready."""
    found: dict[str, bool] = {}
    for pod in snapshot.select_everywhere("pods", {"app": "ztunnel"}):
        node = o.as_str(o.spec(pod).get("nodeName"))
        found[node] = found.get(node, False) or pod_ready(pod)
    return found
