"""A stand-in kubelet behind the real kube-apiserver: the node's HTTPS endpoint the API server proxies
`pods/log` to (GET /containerLogs/{namespace}/{pod}/{container}), and `pods/portforward` and `pods/exec`
(GET /portForward/{namespace}/{pod}?port=N, /exec/{namespace}/{pod}/{container}?command=...: kube-apiserver
1.20 passes the client's websocket upgrade through to the kubelet and then copies bytes both ways), so
log reads and the --probe reads in the integration suite go plugin -> API server -> kubelet as in a cluster.
A forwarded pod port is a local TCP server the test started (`forwards`); exec knows the two `request`
commands of tests/fakeapi/portforward.py.

It answers with the kubelet's parameter semantics (sinceSeconds, sinceTime, tailLines, limitBytes,
timestamps, previous; shared with the fake API server: tests/fakeapi/server.py log_text) and lets a test
make one pod slow. A kubelet that is down is a Node whose kubelet port nobody listens on.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

from tests.fakeapi.portforward import serve_exec, serve_portforward
from tests.fakeapi.server import log_text


@dataclass
class KubeletState:
    # (namespace, pod, container) -> log text; (namespace, pod, container, "previous") for --previous
    logs: dict[tuple[str, ...], str] = field(default_factory=dict)
    slow: dict[tuple[str, str], float] = field(default_factory=dict)  # (namespace, pod) -> seconds
    # the log of a running container not in `logs` (None: "not found"); the benchmark's pods say nothing
    every_container: str | None = None
    requests: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    forwards: dict[tuple[str, str, int], tuple[str, int]] = field(default_factory=dict)  # pod port -> local server


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        url = urlparse(self.path)
        state.requests.append(self.path)
        parts = url.path.strip("/").split("/")
        if parts[0] in ("portForward", "exec") and len(parts) >= 3 and self.headers.get("Upgrade", "").lower() == \
                "websocket":
            return self._stream(parts, url.query)
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self._send(404, "404 page not found\n")
        _, namespace, pod, container = parts
        query = dict(parse_qsl(url.query))
        state.stopping.wait(state.slow.get((namespace, pod), 0.0))
        key: tuple[str, ...] = (namespace, pod, container)
        if query.get("previous") == "true":
            key = (*key, "previous")
        if key not in state.logs and len(key) == 3 and state.every_container is not None:
            return self._send(200, log_text(state.every_container, query))
        if key not in state.logs:
            what = "previous terminated container" if len(key) == 4 else "container"
            return self._send(400, f'{what} "{container}" in pod "{pod}" not found\n')
        self._send(200, log_text(state.logs[key], query))

    def _stream(self, parts: list[str], query: str) -> None:
        state = self.server.state
        namespace, pod = parts[1], parts[2]
        if parts[0] == "portForward":
            port = int(dict(parse_qsl(query)).get("port", "0") or 0)
            return serve_portforward(self, port, state.forwards.get((namespace, pod, port)), state.stopping)
        command = [v for k, v in parse_qsl(query) if k == "command"]
        port = 15000 if command[:1] == ["pilot-agent"] else 15014
        return serve_exec(self, command, state.forwards.get((namespace, pod, port)))

    def _send(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """The API server hangs up on a slow answer it gave up on: expected here, not worth a traceback."""

    def __init__(self, state: KubeletState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeKubelet:
    """HTTPS on a free loopback port, with the suite's serving certificate."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.state = KubeletState()
        self._server = _Server(self.state)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def reset(self) -> None:
        """A new world: answers still held back for the last one are released, and everything forgotten."""
        self.state.stopping.set()
        self.state.stopping = threading.Event()
        self.state.logs.clear()
        self.state.slow.clear()
        self.state.forwards.clear()
        self.state.requests.clear()

    def stop(self) -> None:
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
