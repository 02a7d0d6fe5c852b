"""What a pod runs as its proxy, read from the istio-proxy container's image tag."""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.snapshot import objects as o


def proxy_version(pod: dict[str, Any]) -> str | None:
    for container in [*o.as_list(o.spec(pod).get("containers")), *o.as_list(o.spec(pod).get("initContainers"))]:
        container = o.as_dict(container)
        if container.get("name") == w.PROXY_CONTAINER:
            image = o.as_str(container.get("image"))
            return image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else image or None
    return None
