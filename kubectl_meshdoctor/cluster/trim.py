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


_MANAGED, _SPEC = b',"managedFields":[', b'"spec":'
# Array-valued keys of ObjectMeta that could follow managedFields in another encoder's order (inside
# managedFields these names only appear as `"f:NAME"`), and the start of another item.
_NOT_IN_MANAGED = (b'"ownerReferences":', b'"finalizers":', b'{"metadata":')


def without_managed_fields(body: bytes) -> bytes:
    """A List's JSON with each item's `managedFields` cut out before it is parsed: half of a pod's bytes
    on a real API server, and parsing them was a third of a scan's fetch. The API server encodes
    ObjectMeta in its Go field order, managedFields last, so in a List of kinds with a spec each one
    reads `,"managedFields":[...]},"spec":`. A cut is made only where that is provably the layout: the
    first `"spec":` key after managedFields closes the array and then metadata (`]},`), and nothing
    between them is another array-valued metadata key or another item (keys inside managedFields are
    all `f:`-prefixed, and no unescaped quote can occur inside a string). Any other layout is parsed
    whole from there on."""
    start = body.find(_MANAGED)
    if start < 0:
        return body
    parts, kept = [], 0
    while start >= 0:
        spec = body.find(_SPEC, start)
        if spec < 0 or body[spec - 3:spec] != b"]},":
            break
        region = body[start:spec]
        if any(marker in region for marker in _NOT_IN_MANAGED):
            break
        parts.append(body[kept:start])
        kept = spec - 2  # from `},"spec":` on
        start = body.find(_MANAGED, spec)
    parts.append(body[kept:])
    return b"".join(parts)


def trim(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object without the fields nothing reads (the parts that lose fields are rebuilt, not emptied
    in place: a dict keeps the room of the keys popped from it, and every later lookup in it probes past
    them; the analysis reads each pod of a host a few dozen times)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and any(key in metadata for key in METADATA_DROPPED):
        obj["metadata"] = _without(metadata, METADATA_DROPPED)
    if kind == "Pod":
        _trim_pod(obj)
    return obj


def _without(found: dict[str, Any], dropped: frozenset[str] | tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in found.items() if key not in dropped}


def _trim_pod(pod: dict[str, Any]) -> None:
    spec = pod.get("spec")
    if isinstance(spec, dict):
        spec = pod["spec"] = _without(spec, _POD_SPEC_DROPPED)
        for group in ("containers", "initContainers", "ephemeralContainers"):
            if isinstance(spec.get(group), list):
                spec[group] = [_container(c) if isinstance(c, dict) else c for c in spec[group]]
        if isinstance(spec.get("volumes"), list):
            spec["volumes"] = [_volume(v) for v in _dicts(spec["volumes"])]
    status = pod.get("status")
    if isinstance(status, dict):
        for group in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
            if isinstance(status.get(group), list):
                status[group] = [_without(c, _STATUS_DROPPED) if isinstance(c, dict) else c for c in status[group]]


def _container(container: dict[str, Any]) -> dict[str, Any]:
    return _without(container, _CONTAINER_DROPPED if container.get("name") in ENV_READ_FROM else _CONTAINER_AND_ENV)


_POD_SPEC_DROPPED = frozenset(POD_SPEC_DROPPED)
_CONTAINER_DROPPED = frozenset(CONTAINER_DROPPED)
_CONTAINER_AND_ENV = frozenset((*CONTAINER_DROPPED, "env"))
_STATUS_DROPPED = frozenset(STATUS_DROPPED)


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
