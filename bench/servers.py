"""Where the benchmark world is served from: the project's fake API server, or a real kube-apiserver.

The real one is the integration suite's (tests/integration/realcluster.py: Debian's etcd with
kube-apiserver 1.20.2 built by tests/integration/cluster/build.sh). The world is created through its
API, so every object carries what a real server adds (managedFields, uid, resourceVersion,
creationTimestamp), pods are bound to a node with their status set, and the controller-manager makes
the Endpoints. Loading is parallel; it is setup, not measured.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench"


@dataclass(frozen=True)
class Served:
    kubeconfig: str
    url: str
    token: str
    cafile: str | None
    counts: dict[str, int]
    kind: str  # fake | real


def _counts(world: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in world:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    return counts


def _serve_fake(pods: int, ready: Any) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.generate import make_world
    from tests.fakeapi.server import FakeApiServer, FakeCluster

    world = make_world(pods)
    with FakeApiServer(FakeCluster(world)) as api:
        ready.put((api.url, _counts(world)))
        while True:
            time.sleep(3600)


@contextmanager
def fake_server(pods: int) -> Iterator[Served]:
    """The fake API server in a process of its own, so its work is not the measured process's."""
    ready: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve_fake, args=(pods, ready), daemon=True)
    server.start()
    try:
        url, counts = ready.get(timeout=900)
        tmp = Path(tempfile.mkdtemp())
        kubeconfig = tmp / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "bench",
            "clusters": [{"name": "bench", "cluster": {"server": url}}],
            "users": [{"name": "bench", "user": {"token": TOKEN}}],
            "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}]}))
        yield Served(str(kubeconfig), url, TOKEN, None, counts, "fake")
    finally:
        server.terminate()
        server.join()


@contextmanager
def real_server(pods: int, workers: int = 16) -> Iterator[Served]:
    sys.path.insert(0, str(ROOT))
    from bench.generate import make_world
    from tests.integration.realcluster import NODE, RealCluster, _valid

    cluster = RealCluster.start()
    try:
        if cluster.kubelet is not None:
            cluster.kubelet.state.every_container = ""  # running proxies with quiet logs, as on the fake server
        world = make_world(pods)
        namespaces = [o for o in world if o["kind"] == "Namespace"]
        named = {o["metadata"]["name"] for o in namespaces}
        wanted = sorted({o["metadata"].get("namespace") for o in world if o["metadata"].get("namespace")} - named)
        for ns in [*namespaces, *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in wanted)]:
            _create(cluster, ns)
        selected = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in world
                    if o["kind"] == "Service" and (o.get("spec") or {}).get("selector")}
        rest = [o for o in world if o["kind"] != "Namespace" and not (
            o["kind"] == "Endpoints" and (o["metadata"]["namespace"], o["metadata"]["name"]) in selected)]
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda o: _create(cluster, _valid(o, NODE)), rest))
        yield Served(str(cluster.kubeconfig("plugin")), cluster.url, cluster.token("plugin"),
                     str(cluster.tmp / "ca.crt"), _counts(world), "real")
    finally:
        cluster.stop()
        cluster.remove()


def _create(cluster: Any, obj: dict[str, Any]) -> None:
    """POST the object (and a pod's status, as a kubelet would report it)."""
    url = cluster.collection(obj)
    status, body = cluster.request("POST", url, obj)
    if status not in (200, 201, 409):
        raise RuntimeError(f"creating {obj['kind']} {obj['metadata'].get('name')}: HTTP {status}: {body}")
    if obj["kind"] == "Pod" and obj.get("status") and status != 409:
        status, body = cluster.request("PATCH", f"{url}/{obj['metadata']['name']}/status", {"status": obj["status"]},
                                       "application/merge-patch+json")
        if status != 200:
            raise RuntimeError(f"setting the status of pod {obj['metadata']['name']}: HTTP {status}: {body}")
