"""What is dropped from objects while a page is parsed: the bytes no check, section or probe reads.

Pods are most of a cluster's bytes (PERF-FLOOR.md) and most of a pod is scheduling and kubelet
detail: probes, resource requests, volume mounts, the downward-API and token volumes, tolerations.
Dropping them page by page keeps a scan's memory proportional to what the model reads (issue 19:
3 GiB at 50,000 pods before). The lists below are of fields nothing in the plugin reads; a field a
check starts to read must leave them. Every scenario world is read both ways: from its files
(untrimmed) and through the fake and the real API servers (trimmed), and tests/test_parity_fake.py
and tests/integration/test_parity.py assert the same findings host by host.
"""

from __future__ import annotations

from typing import Any

# Read by nothing, on every kind: managedFields is half of a pod's bytes on a real server.
METADATA_DROPPED = ("managedFields",)
CONTAINER_DROPPED = ("livenessProbe", "readinessProbe", "startupProbe", "resources", "resizePolicy", "volumeMounts",
                     "volumeDevices", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
                     "lifecycle", "envFrom", "stdin", "stdinOnce", "tty", "workingDir")
# Only the proxy's env (its metadata switches) and istiod's (PILOT_* switches, CLUSTER_ID) are read.
ENV_READ_FROM = ("istio-proxy", "discovery")
POD_SPEC_DROPPED = ("tolerations", "affinity", "topologySpreadConstraints", "dnsConfig", "imagePullSecrets",
                    "overhead", "schedulingGates", "resourceClaims", "terminationGracePeriodSeconds",
                    "enableServiceLinks", "preemptionPolicy", "priority", "priorityClassName", "schedulerName",
                    "dnsPolicy", "restartPolicy")
STATUS_DROPPED = ("imageID", "containerID", "started", "allocatedResources", "resources", "user",
                  "volumeMounts", "allocatedResourcesStatus")


def trim(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object without the fields nothing reads (in place: it was just parsed)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for key in METADATA_DROPPED:
            metadata.pop(key, None)
    if kind == "Pod":
        _trim_pod(obj)
    return obj


def _trim_pod(pod: dict[str, Any]) -> None:
    spec = pod.get("spec")
    if isinstance(spec, dict):
        for key in POD_SPEC_DROPPED:
            spec.pop(key, None)
        for group in ("containers", "initContainers", "ephemeralContainers"):
            for container in _dicts(spec.get(group)):
                for key in CONTAINER_DROPPED:
                    container.pop(key, None)
                if container.get("name") not in ENV_READ_FROM:
                    container.pop("env", None)
        if isinstance(spec.get("volumes"), list):
            spec["volumes"] = [_volume(v) for v in _dicts(spec["volumes"])]
    status = pod.get("status")
    if isinstance(status, dict):
        for group in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
            for container in _dicts(status.get(group)):
                for key in STATUS_DROPPED:
                    container.pop(key, None)


def _volume(volume: dict[str, Any]) -> dict[str, Any]:
    """A volume's name (the injector's volumes tell how a sidecar was injected) and the ConfigMaps it
    mounts (which pods run an NGINX config); the token, downward-API and secret details go."""
    kept: dict[str, Any] = {"name": volume.get("name")}
    if "configMap" in volume:
        kept["configMap"] = volume["configMap"]
    sources = volume.get("projected", {}).get("sources") if isinstance(volume.get("projected"), dict) else None
    if isinstance(sources, list):
        kept["projected"] = {"sources": [s for s in _dicts(sources) if "configMap" in s]}
    return kept


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
