"""The labels a DestinationRule subset is matched against: the pod's, augmented by Istio.

istiod builds each Kubernetes endpoint with `AugmentLabels(pod.Labels, clusterID, locality, nodeName,
network)` (pilot/pkg/serviceregistry/util/label/label.go, called from kube/controller/endpoint_builder.go
NewEndpointBuilder, Istio 1.8+; `kubernetes.io/hostname` from 1.18). So a subset selecting
`topology.kubernetes.io/zone: eu-west-1a` picks the pods on nodes in that zone, though no pod carries
the label. Locality is the pod's `istio-locality` label (dots for slashes), else its Node's
region/zone labels and `topology.istio.io/subzone` (controller.go getPodLocality). The cluster is
istiod's CLUSTER_ID (default `Kubernetes`, pilot/pkg/features/pilot.go); the network the pod's, else
its namespace's `topology.istio.io/network` label (meshNetworks by address is not modelled: no label).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

REGION, ZONE, SUBZONE = "topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"
CLUSTER, NETWORK, HOSTNAME = "topology.istio.io/cluster", "topology.istio.io/network", "kubernetes.io/hostname"
LOCALITY_KEYS = (REGION, ZONE, SUBZONE)
AUGMENTED_KEYS = frozenset({*LOCALITY_KEYS, CLUSTER, NETWORK, HOSTNAME})
# The node labels Istio reads locality from: the GA name first, then the deprecated beta one.
NODE_LABELS = {REGION: (REGION, "failure-domain.beta.kubernetes.io/region"),
               ZONE: (ZONE, "failure-domain.beta.kubernetes.io/zone"), SUBZONE: (SUBZONE,)}
DEFAULT_CLUSTER_ID = "Kubernetes"


@dataclass(frozen=True)
class EndpointLabels:
    labels: dict[str, str]
    unknown: frozenset[str]  # augmented keys this run could not derive (the pod's Node was not read)


def augmented(snapshot: Snapshot, pod: dict[str, Any], cluster_id: str,
              version: IstioVersion | None) -> EndpointLabels:
    """Once per snapshot and pod (every subset of every host asks again)."""
    return snapshot.derived_for(pod, ("endpoint-labels", cluster_id, version),
                                lambda: _augment(snapshot, pod, cluster_id, version))


def _augment(snapshot: Snapshot, pod: dict[str, Any], cluster_id: str, version: IstioVersion | None) -> EndpointLabels:
    out = dict(o.labels(pod))
    if version is not None and not version.at_least(1, 8):
        return EndpointLabels(out, frozenset())
    unknown: set[str] = set()
    locality = o.labels(pod).get("istio-locality", "")
    node_name = o.as_str(o.dig(pod, "spec", "nodeName"))
    if locality:
        parts = locality.replace(".", "/").split("/")
        out.update({k: v for k, v in zip(LOCALITY_KEYS, parts, strict=False) if v})
    elif node_name:
        node = snapshot.get("nodes", "", node_name)
        if node is None:
            unknown.update(LOCALITY_KEYS)
        else:
            for key, names in NODE_LABELS.items():
                value = next((o.labels(node)[n] for n in names if o.labels(node).get(n)), "")
                if value:
                    out[key] = value
    out[CLUSTER] = cluster_id
    if node_name and (version is None or version.at_least(1, 18)):
        out[HOSTNAME] = node_name
    if not out.get(NETWORK):
        namespace = snapshot.get("namespaces", "", o.namespace(pod))
        network = o.labels(namespace).get(NETWORK, "") if namespace is not None else ""
        if network:
            out[NETWORK] = network
    return EndpointLabels(out, frozenset(unknown))


def needs_locality(labels: dict[str, str]) -> bool:
    return any(k in LOCALITY_KEYS for k in labels)
