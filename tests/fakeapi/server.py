"""A fake Kubernetes API server over real HTTP, serving scenario objects.

It answers the way kube-apiserver answers the requests meshdoctor makes: discovery documents that
list only the API groups the scenario installs, list/get for namespaced and cluster-scoped kinds,
`labelSelector` (=, ==, !=, in, notin, exists, !exists), `fieldSelector` (metadata.name,
metadata.namespace, status.phase), `limit`/`continue` pagination with opaque tokens, lists whose
core items carry no kind/apiVersion, objects served under any version their group serves, bearer
tokens with per-token rights (401/403 with kube-style Status bodies), injected latency and errors,
a log of every request so tests can prove the plugin never writes, the `pods/log` subresource
(container, sinceSeconds, limitBytes, tailLines), and `pods/portforward` and `pods/exec` over
websockets (fakeapi/portforward.py; exec knows two commands, istiod's `pilot-discovery request` and
the proxy's `pilot-agent request`).

kmock (PyPI) was tried first: it is aiohttp-based and has no label selectors, pagination or
per-token RBAC, so this small threaded server is used instead.

Its table of kinds is its own (not the plugin's), so the tests do not inherit the plugin's
assumptions about plural names, groups or scopes.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakeapi.portforward import serve_exec, serve_portforward


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    group: str
    namespaced: bool = True
    versions: tuple[str, ...] = ()  # the versions its CRD serves; empty: every version of its group

    def served_as(self, version: str) -> bool:
        return not self.versions or version in self.versions


KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "namespaces", "", namespaced=False),
    Kind("Node", "nodes", "", namespaced=False),
    Kind("Service", "services", ""),
    Kind("Endpoints", "endpoints", ""),
    Kind("Pod", "pods", ""),
    Kind("ConfigMap", "configmaps", ""),
    Kind("Secret", "secrets", ""),
    Kind("ServiceAccount", "serviceaccounts", ""),
    Kind("Deployment", "deployments", "apps"),
    Kind("ReplicaSet", "replicasets", "apps"),
    Kind("EndpointSlice", "endpointslices", "discovery.k8s.io"),
    Kind("VirtualService", "virtualservices", "networking.istio.io"),
    Kind("DestinationRule", "destinationrules", "networking.istio.io"),
    Kind("Gateway", "gateways", "networking.istio.io"),
    Kind("ServiceEntry", "serviceentries", "networking.istio.io"),
    Kind("Sidecar", "sidecars", "networking.istio.io"),
    Kind("PeerAuthentication", "peerauthentications", "security.istio.io"),
    Kind("AuthorizationPolicy", "authorizationpolicies", "security.istio.io"),
    Kind("Policy", "policies", "authentication.istio.io"),
    Kind("MeshPolicy", "meshpolicies", "authentication.istio.io", namespaced=False),
    Kind("Gateway", "gateways", "gateway.networking.k8s.io", versions=("v1", "v1beta1")),
    Kind("GatewayClass", "gatewayclasses", "gateway.networking.k8s.io", namespaced=False, versions=("v1", "v1beta1")),
    # as the Gateway API v1.4 CRDs serve them (config/crd/experimental)
    Kind("HTTPRoute", "httproutes", "gateway.networking.k8s.io", versions=("v1", "v1beta1")),
    Kind("GRPCRoute", "grpcroutes", "gateway.networking.k8s.io", versions=("v1",)),
    Kind("TCPRoute", "tcproutes", "gateway.networking.k8s.io", versions=("v1alpha2",)),
    Kind("TLSRoute", "tlsroutes", "gateway.networking.k8s.io", versions=("v1alpha2",)),
    Kind("ReferenceGrant", "referencegrants", "gateway.networking.k8s.io", versions=("v1beta1",)),
)
BUILTIN_GROUPS = {"apps": ("v1",), "discovery.k8s.io": ("v1",)}
MODERN_ISTIO = {"networking.istio.io": ("v1", "v1beta1", "v1alpha3"), "security.istio.io": ("v1", "v1beta1")}
LEGACY_AUTHN = {"authentication.istio.io": ("v1alpha1",)}
# The Kubernetes Gateway API's CRDs, installed as on any cluster running ambient (waypoints are its Gateways)
GATEWAY_API = {"gateway.networking.k8s.io": ("v1", "v1beta1", "v1alpha2")}


@dataclass(frozen=True)
class Access:
    """What one bearer token may list/get: '*' for everything, else (plural, namespace or None=any)."""

    user: str
    allow: frozenset[tuple[str, str | None]] | str = "*"

    def permits(self, plural: str, namespace: str | None) -> bool:
        if self.allow == "*":
            return True
        return (plural, None) in self.allow or (plural, namespace) in self.allow


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    user: str
    impersonate: str = ""


@dataclass
class FakeCluster:
    objects: list[dict[str, Any]]
    istio_groups: dict[str, tuple[str, ...]] | None = None  # None: modern Istio (+ legacy authn if used)
    tokens: dict[str, Access] | None = None  # None: no authentication required
    latency: float = 0.0
    slow_pages: float = 0.0  # seconds each page of a pods LIST of every namespace takes (a big cluster's)
    failures: dict[str, int] = field(default_factory=dict)  # plural -> HTTP status to answer with
    expire_continue: bool = False  # answer the first `continue` request with 410 Gone
    page_cap: int = 0  # serve at most this many items a page, whatever the limit (a server may serve fewer)
    by_name_only: bool = False  # list in name order across namespaces (a real server lists in key order)
    throttle: dict[str, tuple[int, str]] = field(default_factory=dict)  # plural -> (how many 429s, Retry-After)
    flaky: dict[str, int] = field(default_factory=dict)  # plural -> how many 500s before it answers
    hang: frozenset[str] = frozenset()  # plurals whose requests are accepted and never answered
    drip: frozenset[str] = frozenset()  # plurals whose bodies come one byte every 0.2 s
    garbage: frozenset[str] = frozenset()  # plurals answered with an HTML error page (status 200)
    # (namespace, pod, container) -> log text; a line may start with "@-<seconds> " (its age; default 60)
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # (namespace, pod) -> how that pod's kubelet answers a log read through the API server: "refused" (the
    # API server's 500 with the dial error, as a real one proxies it), or seconds it takes to answer
    sick_kubelets: dict[tuple[str, str], str | float] = field(default_factory=dict)
    # (namespace, pod, port) -> a local TCP address the port-forward subresource connects to
    forwards: dict[tuple[str, str, int], tuple[str, int]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_kind: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (group, plural): Gateway is in two groups
        for obj in self.objects:
            kind = kind_of(obj)
            self._by_kind.setdefault((kind.group, kind.plural), []).append(obj)
        if self.istio_groups is None:
            groups = dict(MODERN_ISTIO)
            if any(kind_of(o).group == "authentication.istio.io" for o in self.objects):
                groups.update(LEGACY_AUTHN)
            self.istio_groups = groups
        self._expired_once = False
        self._lock = threading.Lock()

    def served_groups(self) -> dict[str, tuple[str, ...]]:
        return {**BUILTIN_GROUPS, **GATEWAY_API, **(self.istio_groups or {})}

    def items(self, kind: Kind) -> list[dict[str, Any]]:
        return self._by_kind.get((kind.group, kind.plural), [])


def kind_of(obj: dict[str, Any]) -> Kind:
    group = obj.get("apiVersion", "").rpartition("/")[0] if "/" in obj.get("apiVersion", "") else ""
    for kind in KINDS:
        if kind.kind == obj.get("kind") and kind.group == group:
            return kind
    raise ValueError(f"the fake API server does not know {obj.get('apiVersion')} {obj.get('kind')}")


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details or {}, "code": code}


# ----------------------------------------------------------------------------------------- selectors

_REQUIREMENT = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def _split_selector(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def label_selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for part in _split_selector(selector):
        m = _REQUIREMENT.match(part)
        if not m:
            raise ValueError(f"unable to parse requirement: {part!r}")
        negate, key, op, value, set_op, values = m.groups()
        if op in ("=", "=="):
            ok = labels.get(key) == value
        elif op == "!=":
            ok = labels.get(key) != value
        elif set_op:
            choices = {v.strip() for v in values.split(",")}
            ok = labels.get(key) in choices if set_op == "in" else labels.get(key) not in choices
        else:
            ok = (key in labels) != bool(negate)
        if not ok:
            return False
    return True


FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace"),
          "status.phase": ("status", "phase")}


def field_selector_matches(selector: str, obj: dict[str, Any]) -> bool:
    for part in _split_selector(selector):
        m = re.match(r"^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m or m.group(1) not in FIELDS:
            raise ValueError(f"field label not supported: {part!r}")
        section, key = FIELDS[m.group(1)]
        actual = (obj.get(section) or {}).get(key, "")
        if (actual == m.group(3)) != (m.group(2) != "!="):
            return False
    return True


# --------------------------------------------------------------------------------------------- server

class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        cluster = self.server.cluster
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        user = self._authenticate()
        with cluster._lock:
            cluster.requests.append(Request(method, url.path, query, user.user if user else "",
                                            self.headers.get("Impersonate-User", "")))
        if cluster.latency:
            time.sleep(cluster.latency)
        if cluster.slow_pages and url.path == "/api/v1/pods":
            time.sleep(cluster.slow_pages)
        if cluster.tokens is not None and user is None:
            return self._send(401, _status(401, "Unauthorized", "Unauthorized"))
        if method != "GET":
            return self._send(405, _status(405, "MethodNotAllowed", f"{method} is not supported by the fake"))
        try:
            code, body = self._route(url.path, query, user)
        except ValueError as exc:
            code, body = 400, _status(400, "BadRequest", str(exc))
        if code == 101 and "command" in body:
            return serve_exec(self, body["command"], body["target"])
        if code == 101:
            return serve_portforward(self, body["port"], body["target"], self.server.stopping)
        self._send(code, body)

    def _authenticate(self) -> Access | None:
        tokens = self.server.cluster.tokens
        if tokens is None:
            return Access("admin")
        header = self.headers.get("Authorization", "")
        return tokens.get(header[7:]) if header.startswith("Bearer ") else tokens.get("")

    def _send(self, code: int, body: dict[str, Any]) -> None:
        raw = getattr(self, "_raw", None)
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", getattr(self, "_raw_type", "text/html") if raw is not None
                         else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in getattr(self, "_extra_headers", {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not getattr(self, "_drip", False):
            self.wfile.write(data)
            return
        for i in range(len(data)):  # bounded: stops when the client goes away or the server stops
            if self.server.stopping.wait(0.2):
                return
            try:
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
            except OSError:
                return

    def _route(self, path: str, query: dict[str, str], user: Access | None) -> tuple[int, dict[str, Any]]:
        cluster = self.server.cluster
        parts = [p for p in path.split("/") if p]
        if parts == ["version"]:
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake", "platform": "linux/amd64"}
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in sorted(cluster.served_groups().items())]}
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
            if version not in cluster.served_groups().get(group, ()):
                return 404, _status(404, "NotFound", "the server could not find the requested resource")
        else:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return 200, self._resource_list(group, version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        kind = next((k for k in KINDS if k.plural == rest[0] and k.group == group and k.served_as(version)), None)
        if kind is None or (namespace is not None and not kind.namespaced):
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        verb = "list" if len(rest) == 1 else "get"
        plural = kind.plural if len(rest) < 3 else f"{kind.plural}/{rest[2]}"
        if len(rest) == 3 and rest[2] in ("portforward", "exec"):
            verb = "create"
        if user is not None and not user.permits(plural, namespace):
            scope = f" in the namespace \"{namespace}\"" if namespace else " at the cluster scope"
            return 403, _status(403, "Forbidden",
                                f"{kind.plural}{'.' + group if group else ''} is forbidden: User \"{user.user}\" "
                                f"cannot {verb} resource \"{plural}\" in API group \"{group}\"{scope}",
                                {"kind": kind.plural, "group": group})
        if plural in cluster.failures:
            code = cluster.failures[plural]
            return code, _status(code, "InternalError", f"injected failure for {plural}")
        fault = self._fault(plural)
        if fault is not None:
            return fault
        if len(rest) == 3 and kind.plural == "pods" and namespace:
            return self._pod_subresource(namespace, rest[1], rest[2], query)
        if len(rest) > 2:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        if verb == "get":
            return self._get(kind, group, version, namespace, rest[1])
        return self._list(kind, group, version, namespace, query)

    def _fault(self, plural: str) -> tuple[int, dict[str, Any]] | None:
        cluster = self.server.cluster
        with cluster._lock:
            if cluster.throttle.get(plural, (0, ""))[0] > 0:
                left, retry_after = cluster.throttle[plural]
                cluster.throttle[plural] = (left - 1, retry_after)
                self._extra_headers = {"Retry-After": retry_after} if retry_after else {}
                return 429, _status(429, "TooManyRequests", "the server is busy, try again later")
            if cluster.flaky.get(plural, 0) > 0:
                cluster.flaky[plural] -= 1
                return 500, _status(500, "InternalError", "etcdserver: request timed out")
        if plural in cluster.hang:
            self.server.stopping.wait(60)
            return 504, _status(504, "Timeout", "never answered")
        if plural in cluster.garbage:
            self._raw = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return 200, {}
        if plural in cluster.drip:
            self._drip = True
        return None

    def _pod_subresource(self, namespace: str, name: str, sub: str, query: dict[str, str]):
        cluster = self.server.cluster
        code, pod = self._get(KINDS_BY_PLURAL["pods"], "", "v1", namespace, name)
        if code != 200:
            return code, pod
        if sub == "portforward":
            if self.headers.get("Upgrade", "").lower() != "websocket":
                return 400, _status(400, "BadRequest", "Upgrade request required")
            port = int(query.get("ports", "0").split(",")[0] or 0)
            return 101, {"port": port, "target": cluster.forwards.get((namespace, name, port))}
        if sub == "exec":
            if self.headers.get("Upgrade", "").lower() != "websocket":
                return 400, _status(400, "BadRequest", "Upgrade request required")
            command = parse_qs(urlparse(self.path).query).get("command", [])
            port = 15000 if command[:1] == ["pilot-agent"] else 15014  # the proxy's Envoy admin, or istiod's port
            return 101, {"command": command, "target": cluster.forwards.get((namespace, name, port))}
        if sub != "log":
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container") or (containers[0] if len(containers) == 1 else "")
        if container not in containers:
            return 400, _status(400, "BadRequest", f"container {container} is not valid for pod {name}"
                                if container else f"a container name must be specified for pod {name}, "
                                f"choose one of: {containers}")
        sick = cluster.sick_kubelets.get((namespace, name))
        if sick == "refused":
            node = f"https://10.0.7.{len(name) % 200}:10250"
            return 500, _status(500, "InternalError", f'Get "{node}/containerLogs/{namespace}/{name}/{container}": '
                                                      f"dial tcp {node[8:]}: connect: connection refused")
        if isinstance(sick, float | int):
            self.server.stopping.wait(float(sick))  # type: ignore[attr-defined]
        self._raw = log_text(cluster.logs.get((namespace, name, container), ""), query).encode()
        self._raw_type = "text/plain"
        return 200, {}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [{"name": k.plural, "singularName": k.kind.lower(), "namespaced": k.namespaced,
                               "kind": k.kind, "verbs": ["get", "list", "watch"]}
                              for k in KINDS if k.group == group and k.served_as(version)]}

    def _serve_as(self, obj: dict[str, Any], kind: Kind, group: str, version: str) -> dict[str, Any]:
        """The object as the requested version of its group; core list items lose kind/apiVersion."""
        return {**obj, "apiVersion": f"{group}/{version}" if group else version}

    def _get(self, kind: Kind, group: str, version: str, namespace: str | None, name: str):
        for obj in self.server.cluster.items(kind):
            meta = obj.get("metadata") or {}
            if meta.get("name") == name and (not kind.namespaced or meta.get("namespace") == namespace):
                return 200, self._serve_as(obj, kind, group, version)
        return 404, _status(404, "NotFound", f"{kind.plural} \"{name}\" not found",
                            {"name": name, "kind": kind.plural})

    def _list(self, kind: Kind, group: str, version: str, namespace: str | None, query: dict[str, str]):
        cluster = self.server.cluster
        items = [o for o in cluster.items(kind)
                 if namespace is None or (o.get("metadata") or {}).get("namespace") == namespace]
        if query.get("labelSelector"):
            items = [o for o in items if label_selector_matches(query["labelSelector"], _labels(o))]
        if query.get("fieldSelector"):
            items = [o for o in items if field_selector_matches(query["fieldSelector"], o)]
        items.sort(key=lambda o: ((o.get("metadata") or {}).get("namespace", ""), o["metadata"]["name"]))
        if cluster.by_name_only:
            items.sort(key=lambda o: o["metadata"]["name"])
        offset = 0
        if query.get("continue"):
            with cluster._lock:
                if cluster.expire_continue and not cluster._expired_once:
                    cluster._expired_once = True
                    return 410, _status(410, "Expired", "The provided continue parameter is too old")
            offset = json.loads(base64.b64decode(query["continue"]))["offset"]
        limit = int(query.get("limit") or 0)
        if cluster.page_cap:
            limit = min(limit or cluster.page_cap, cluster.page_cap)
        page = items[offset:offset + limit] if limit else items[offset:]
        metadata: dict[str, Any] = {"resourceVersion": "1000"}
        if limit and offset + limit < len(items):
            metadata["continue"] = base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - offset - limit
        served = [self._serve_as(o, kind, group, version) for o in page]
        if not group:
            served = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in served]
        return 200, {"kind": f"{kind.kind}List", "apiVersion": f"{group}/{version}" if group else version,
                     "metadata": metadata, "items": served}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A real API server listens with the kernel's backlog (Go: somaxconn, 4096). socketserver's default
    # of 5 drops connection attempts when a read round opens thirty at once: each then waits for TCP's
    # one-second retry, which is the fake's artefact, not the client's cost.
    request_queue_size = 1024

    def __init__(self, cluster: FakeCluster) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster
        self.stopping = threading.Event()  # lets hanging and dripping handlers end with the server


class FakeApiServer:
    """`with FakeApiServer(cluster) as api:` serves on an ephemeral loopback port (`api.url`)."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self._server = _Server(cluster)
        # a short poll so that shutdown() returns at once: a test suite starts hundreds of these
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def requests_for(self, path_part: str) -> list[Request]:
        return [r for r in self.cluster.requests if path_part in r.path]


KINDS_BY_PLURAL = {k.plural: k for k in KINDS if not k.group}
_AGE = re.compile(r"^@-(\d+) ")


def log_text(text: str, query: dict[str, str], now: float | None = None) -> str:
    """What the kubelet returns (pkg/kubelet/kuberuntime/logs): lines newer than sinceSeconds (or
    sinceTime), then the last tailLines, each prefixed with its RFC 3339 time when timestamps=true, then
    the first limitBytes of that. A line's age comes from a leading "@-<seconds> " (default 60 s)."""
    now = time.time() if now is None else now
    since = float(query["sinceSeconds"]) if query.get("sinceSeconds") else None
    if query.get("sinceTime"):
        stamp = datetime.datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00")).timestamp()
        since = min(since, now - stamp) if since is not None else now - stamp
    lines = []
    for line in text.splitlines():
        m = _AGE.match(line)
        age, line = (int(m.group(1)), line[m.end():]) if m else (60, line)
        if since is not None and age > since:
            continue
        if query.get("timestamps") == "true":
            line = datetime.datetime.fromtimestamp(now - age, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ ") + line
        lines.append(line)
    if query.get("tailLines"):
        lines = lines[-int(query["tailLines"]):] if int(query["tailLines"]) else []
    out = "".join(f"{line}\n" for line in lines)
    if query.get("limitBytes"):
        out = out.encode()[:int(query["limitBytes"])].decode("utf-8", "ignore")
    return out


def load_objects(texts: Iterable[str]) -> list[dict[str, Any]]:
    import yaml

    out = []
    for text in texts:
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            if doc.get("kind", "").endswith("List"):
                out.extend(doc.get("items") or [])
            else:
                out.append(doc)
    return out
