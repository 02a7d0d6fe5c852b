"""One bounded request/response through a Kubernetes port-forward (the client's websocket, v4.channel.k8s.io).

Only the --probe checks use this, and only as GETs on a pod port. The client library has no
timeouts of its own here (its websocket connect and its proxy thread wait for ever), so every
exchange runs in a worker thread under a hard deadline: connect, then read, then give up and say
which step did not finish. A denied port-forward is reported as `forbidden`, not raised.
"""

from __future__ import annotations

import ast
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from kubectl_meshdoctor.snapshot.evidence import PortAnswer

CONNECT_SECONDS = 2.0
READ_SECONDS = 3.0
FORBIDDEN = "forbidden"


def exchange(api_client: Any, namespace: str, pod: str, port: int, request: bytes, max_bytes: int = 4096,
             connect_seconds: float = CONNECT_SECONDS, read_seconds: float = READ_SECONDS) -> PortAnswer:
    started = time.monotonic()
    pf, failure = open_within(lambda: _open(api_client, namespace, pod, port), connect_seconds, "pods/portforward",
                              "port-forward")
    if failure:
        return PortAnswer(namespace, pod, port, error=failure, seconds=time.monotonic() - started)
    sock = pf.socket(port)
    try:
        data, error = _talk(sock, request, max_bytes, started + connect_seconds + read_seconds)
    finally:
        sock.close()
    remote = pf.error(port)
    if remote and not data:
        error = f"the kubelet could not forward: {remote.strip()[:200]}"
    return PortAnswer(namespace, pod, port, data, error, time.monotonic() - started)


def open_within(connect: Callable[[], Any], seconds: float, subresource: str, what: str) -> tuple[Any, str]:
    """(the client's websocket object, '') or (None, why). The client's connect has no timeout, so it
    runs in a daemon thread that is given up on after `seconds`."""
    box: dict[str, Any] = {}
    opened = threading.Event()

    def run() -> None:
        try:
            box["opened"] = connect()
        except Exception as exc:  # the client wraps every failure in ApiException(status=0, reason=text)
            box["error"] = describe_failure(exc, subresource)
        opened.set()

    threading.Thread(target=run, name=f"meshdoctor {what}", daemon=True).start()
    if not opened.wait(seconds):
        return None, f"{what} not established within {seconds:g}s"
    return box.get("opened"), box.get("error", "")


def _open(api_client: Any, namespace: str, pod: str, port: int) -> Any:
    """A fresh ApiClient per exchange: `portforward` swaps the client's request method while it
    connects, which must not race with anything else using the run's client."""
    from kubernetes import client
    from kubernetes.stream import portforward

    core = client.CoreV1Api(client.ApiClient(api_client.configuration))
    return portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))


def _talk(sock: Any, request: bytes, max_bytes: int, deadline: float) -> tuple[bytes, str]:
    chunks: list[bytes] = []
    received = 0
    try:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        sock.sendall(request)
        while received < max_bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(min(65536, max_bytes - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    except TimeoutError:
        data = b"".join(chunks)
        return data, "" if data else f"no answer within {READ_SECONDS:g}s (the port accepted and stayed silent)"
    except OSError as exc:
        return b"".join(chunks), f"connection failed: {exc}"
    data = b"".join(chunks)
    return data, "" if data else "closed without answering"


_STATUS = re.compile(r"Handshake status (\d+)")


def describe_failure(exc: BaseException, subresource: str) -> str:
    """'forbidden: pods "x" is forbidden: User ... cannot create resource "pods/portforward" ...'"""
    text = str(getattr(exc, "reason", "") or exc)
    status = _STATUS.search(text)
    message = ""
    # websocket-client: "Handshake status 403 Forbidden -+-+- {headers} -+-+- {...Status...}" (or b'...')
    literal = text.rsplit(" -+-+- ", 1)[-1].strip() if " -+-+- " in text else ""
    try:
        body = ast.literal_eval(literal) if literal[:2] in ("b'", 'b"') else literal  # versions differ
        message = json.loads(body).get("message", "") if body else ""
    except (ValueError, SyntaxError, AttributeError):
        message = ""
    if status and status.group(1) == "403":
        return f"{FORBIDDEN}: {message or f'the API server denied {subresource}'}"
    if status:
        return f"the API server refused {subresource} (HTTP {status.group(1)}{': ' + message if message else ''})"
    return f"{subresource} failed: {text.splitlines()[0][:200] if text else type(exc).__name__}"
