"""The Workloads section: what Istio makes of each Service port, and the pods behind the host."""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.mesh.protocol import derive
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.target import Target
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o


def proxy_version(pod: dict[str, Any]) -> str | None:
    for container in [*o.as_list(o.spec(pod).get("containers")), *o.as_list(o.spec(pod).get("initContainers"))]:
        container = o.as_dict(container)
        if container.get("name") == w.PROXY_CONTAINER:
            image = o.as_str(container.get("image"))
            return image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else image or None
    return None


def describe_workloads(snapshot: Snapshot, settings: MeshSettings, target: Target) -> dict[str, Any]:
    services, pods = [], []
    for ref in target.services:
        svc = snapshot.get("services", ref.namespace, ref.name)
        if svc is None:
            continue
        ports = []
        for port in o.as_list(o.spec(svc).get("ports")):
            port = o.as_dict(port)
            derived = derive(port, settings.version)
            ports.append({"port": port.get("port"), "name": port.get("name"), "targetPort": port.get("targetPort"),
                          "appProtocol": port.get("appProtocol"), "protocol": derived.protocol,
                          "reason": derived.reason})
        services.append({"service": f"{ref.namespace}/{ref.name}", "type": o.spec(svc).get("type", "ClusterIP"),
                         "selector": w.service_selector(svc), "ports": ports})
        if snapshot.readable("pods"):
            for pod in w.service_pods(snapshot, svc):
                pods.append({"pod": f"{o.namespace(pod)}/{o.name(pod)}", "ready": w.pod_ready(pod),
                             "sidecar": w.has_sidecar(pod), "proxyVersion": proxy_version(pod),
                             "labels": o.labels(pod)})
    return {"services": services, "pods": pods if snapshot.readable("pods") else None}
