"""One bounded command in a container through the exec subresource (the client's websocket).

Only the --probe fallback for istiod uses it: `pilot-discovery request GET /debug/syncz` runs inside
istiod and talks to its own loopback port, which is what 1.11+ debug endpoints require. Bounded like
the port-forward: the connect and the whole read have deadlines, and output is capped.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kubectl_meshdoctor.probes.portforward import CONNECT_SECONDS, open_within
from kubectl_meshdoctor.snapshot.evidence import PortAnswer

STDOUT, ERROR = 1, 3


def run(api_client: Any, namespace: str, pod: str, container: str, command: list[str], max_bytes: int,
        read_seconds: float, connect_seconds: float = CONNECT_SECONDS) -> PortAnswer:
    """The command's stdout as the answer's data (via "exec"), or why there is none."""
    started = time.monotonic()

    def connect() -> Any:
        from kubernetes import client
        from kubernetes.stream import stream

        core = client.CoreV1Api(client.ApiClient(api_client.configuration))  # fresh: `stream` patches it
        return stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=command, container=container,
                      stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False, binary=True)

    ws, failure = open_within(connect, connect_seconds, "pods/exec", "exec")
    if failure:
        return PortAnswer(namespace, pod, 0, error=failure, seconds=time.monotonic() - started, via="exec")
    out, status = b"", b""
    deadline = started + connect_seconds + read_seconds
    try:
        while ws.is_open() and len(out) < max_bytes and time.monotonic() < deadline:
            ws.update(timeout=max(0.05, deadline - time.monotonic()))
            out += ws.read_channel(STDOUT) or b""
            status += ws.read_channel(ERROR) or b""
    finally:
        ws.close()
    error = _failure(status)
    if not error and ws.is_open() and time.monotonic() >= deadline:
        error = f"the command did not finish within {read_seconds:g}s"
    return PortAnswer(namespace, pod, 0, out[:max_bytes], error, time.monotonic() - started, via="exec")


def _failure(status: bytes) -> str:
    """The exec protocol ends with a Status on the error channel: Success, or why the command failed."""
    if not status:
        return ""
    try:
        doc = json.loads(status)
    except ValueError:
        return status.decode("utf-8", "replace")[:200]
    return "" if doc.get("status") == "Success" else f"the command failed: {doc.get('message', '')[:200]}"
