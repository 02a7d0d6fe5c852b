"""A real control plane for the integration suite: Debian's etcd, and kube-apiserver and
kube-controller-manager v1.20.2 built from Debian's source package (cluster/build.sh).

Everything listens on free loopback ports, keeps its state in a fresh temp dir and is stopped by PID.
The API server authenticates with a token file (a loader that creates the worlds, the plugin's own
reader, an RBAC-limited user and one with no rights), authorises with RBAC, and writes an audit log
of every request, which is how the suite proves that the plugin never writes.

There is no real kubelet: Pods are bound to a hand-made Node and their status is set through the status
subresource; the controller-manager then fills Endpoints from the pods that look ready. The Node's
addresses and kubelet port point at a stand-in kubelet (kubelet.py), so the API server proxies pod logs
to it as to a real one; a second Node points at a port nobody listens on: a node whose kubelet is down.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.fakeapi.server import kind_of
from tests.integration.kubelet import FakeKubelet

HERE = Path(__file__).resolve().parent
CRDS = HERE / "cluster" / "istio-crds.yaml"
BUILD = HERE / "cluster" / "build.sh"
CACHE = Path(os.environ.get("MESHDOCTOR_K8S_CACHE", Path.home() / ".cache" / "kubectl-meshdoctor" / "k8s-1.20.2"))
NODE = "meshdoctor-node"
NODE_DOWN = "meshdoctor-node-down"  # its kubelet port refuses connections
TOKENS = {"loader": ("loader", "system:masters"), "plugin": ("meshdoctor", "system:masters"),
          "reader": ("oncall", ""), "nobody": ("nobody", "")}
KEEP_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
RBAC = {"Role": "roles", "RoleBinding": "rolebindings", "ClusterRole": "clusterroles",
        "ClusterRoleBinding": "clusterrolebindings"}


class ClusterFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str, cwd: Path | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(directory: Path, name: str) -> Path:
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
         f"{name}.crt", "-days", "2", "-subj", f"/CN={name}", cwd=directory)
    return directory / f"{name}.crt"


@dataclass
class RealCluster:
    """`with RealCluster.start() as cluster:`; `cluster.url`, `cluster.kubeconfig(user)`."""

    tmp: Path
    port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    kubelet: FakeKubelet | None = None
    created: list[str] = field(default_factory=list)  # URLs of the current world's objects
    _last_endpoints: list[str] | None = None

    # ---------------------------------------------------------------------------------- start, stop

    @classmethod
    def start(cls, binaries: Path = CACHE) -> RealCluster:
        cluster = cls(Path(tempfile.mkdtemp(prefix="meshdoctor-k8s-")))
        try:
            cluster._start(binaries)
        except BaseException:
            cluster.stop()
            cluster.remove()
            raise
        return cluster

    def _start(self, binaries: Path) -> None:
        tmp = self.tmp
        make_ca(tmp, "ca")
        (tmp / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "serving.key", "-out", "serving.csr",
             "-subj", "/CN=127.0.0.1", cwd=tmp)
        _run("openssl", "x509", "-req", "-in", "serving.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "serving.crt", "-days", "2", "-extfile", "san.cnf", cwd=tmp)
        _run("openssl", "genrsa", "-out", "sa.key", "2048", cwd=tmp)
        _run("openssl", "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=tmp)
        (tmp / "tokens.csv").write_text("".join(
            f'{self.token(who)},{user},{user},"{group}"\n' if group else f"{self.token(who)},{user},{user}\n"
            for who, (user, group) in TOKENS.items()))
        (tmp / "audit.yaml").write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
        etcd_port, peer_port, self.port = free_port(), free_port(), free_port()
        self._spawn("etcd", ["etcd", "--name", "meshdoctor", "--data-dir", str(tmp / "etcd"),
                             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                             "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                             "--initial-cluster", f"meshdoctor=http://127.0.0.1:{peer_port}"])
        self._spawn("kube-apiserver", [
            str(binaries / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            "--insecure-port=0", f"--cert-dir={tmp}", f"--tls-cert-file={tmp / 'serving.crt'}",
            f"--tls-private-key-file={tmp / 'serving.key'}", f"--token-auth-file={tmp / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC", f"--service-account-key-file={tmp / 'sa.pub'}",
            f"--service-account-signing-key-file={tmp / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range=10.96.0.0/12",
            "--endpoint-reconciler-type=none", "--disable-admission-plugins=ServiceAccount",
            "--kubelet-preferred-address-types=InternalIP",
            f"--audit-policy-file={tmp / 'audit.yaml'}", f"--audit-log-path={self.audit_log}"])
        self._wait(lambda: self.request("GET", "/readyz")[0] == 200, "kube-apiserver /readyz", 60)
        self.kubeconfig("loader", "controller-manager")
        self._spawn("kube-controller-manager", [
            str(binaries / "kube-controller-manager"), f"--kubeconfig={tmp / 'kubeconfig-controller-manager'}",
            # no kubelet: node lifecycle would evict every pod; scenario pods name owners that do not
            # exist, which the garbage collector would delete them for
            "--controllers=*,-nodelifecycle,-garbagecollector", "--leader-elect=false", "--port=0",
            "--secure-port=0",
            f"--service-account-private-key-file={tmp / 'sa.key'}", f"--root-ca-file={tmp / 'ca.crt'}"])
        self.apply(yaml.safe_load_all(CRDS.read_text()))
        self._wait(self._crds_served, "Istio CRDs served", 30)
        self.kubelet = FakeKubelet(tmp / "serving.crt", tmp / "serving.key")
        for node, port in ((NODE, self.kubelet.port), (NODE_DOWN, free_port())):
            url = self.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
            status, body = self.request("PATCH", f"{url}/status", {"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}, "application/merge-patch+json")
            if status != 200:
                raise ClusterFailed(f"setting the addresses of node {node}: HTTP {status}: {body}")
        self.created.clear()

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the process)
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait(self, ready: Any, what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    tail = (self.tmp / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise ClusterFailed(f"{name} exited with {proc.returncode} while waiting for {what}:\n{tail}")
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.3)
        raise ClusterFailed(f"timed out after {seconds}s waiting for {what}")

    def _crds_served(self) -> bool:
        """Every CRD of istio-crds.yaml is in the discovery of each version it serves."""
        for crd in yaml.safe_load_all(CRDS.read_text()):
            group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
            for version in crd["spec"]["versions"]:
                status, body = self.request("GET", f"/apis/{group}/{version['name']}")
                if status != 200 or plural not in {r.get("name") for r in body.get("resources") or []}:
                    return False
        return True

    def stop(self) -> None:
        """By PID, newest first; never by name (other API servers may run on this machine)."""
        if self.kubelet is not None:
            self.kubelet.stop()
        for proc in reversed(list(self.processes.values())):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)  # in case a test froze it
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def remove(self) -> None:
        """After stop (and after the audit log was read): etcd's data and the logs, 100 MB a run."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    @contextlib.contextmanager
    def frozen(self, name: str = "kube-apiserver") -> Iterator[None]:
        """The process stopped (SIGSTOP): it accepts connections and never answers, until resumed."""
        os.killpg(self.processes[name].pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.processes[name].pid, signal.SIGCONT)

    # ------------------------------------------------------------------------------- credentials

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def audit_log(self) -> Path:
        return self.tmp / "audit.log"

    @staticmethod
    def token(who: str) -> str:
        return f"meshdoctor-{who}-token"

    def kubeconfig(self, who: str, name: str = "", ca: Path | None = None, token: str | None = None,
                   namespace: str = "default") -> Path:
        path = self.tmp / f"kubeconfig-{name or who}"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "real",
            "clusters": [{"name": "real", "cluster": {"server": self.url,
                                                      "certificate-authority": str(ca or self.tmp / "ca.crt")}}],
            "users": [{"name": who, "user": {"token": token or self.token(who)}}],
            "contexts": [{"name": "real", "context": {"cluster": "real", "user": who, "namespace": namespace}}]}))
        return path

    def plugin_requests(self, after: int = 0) -> list[dict[str, Any]]:
        """Audit events (stage ResponseComplete or Panic) of every credential the plugin was run with:
        all users but the loader (which the suite and the controller-manager use) and the server's own;
        only those written after byte `after` of the audit log (its size at some earlier moment)."""
        plugin_users = {user for who, (user, _) in TOKENS.items() if who != "loader"}
        events = []
        with self.audit_log.open("rb") as log:
            log.seek(after)
            text = log.read().decode(errors="replace")
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:  # the last line, still being written
                continue
            if event.get("user", {}).get("username") in plugin_users and event.get("stage") in (
                    "ResponseComplete", "Panic"):
                events.append(event)
        return events

    # ---------------------------------------------------------------------------------- raw HTTP

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                who: str = "loader") -> tuple[int, Any]:
        context = ssl.create_default_context(cafile=str(self.tmp / "ca.crt"))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=30)
        try:
            headers = {"Authorization": f"Bearer {self.token(who)}", "Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = content_type
            conn.request(method, path, data, headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode(errors="replace")

    # ------------------------------------------------------------------------------------- worlds

    @staticmethod
    def collection(obj: dict[str, Any]) -> str:
        api_version, kind = obj["apiVersion"], obj["kind"]
        if kind in RBAC:
            plural, namespaced = RBAC[kind], kind.startswith("Role")
        elif kind == "CustomResourceDefinition":
            plural, namespaced = "customresourcedefinitions", False
        else:
            k = kind_of(obj)
            plural, namespaced = k.plural, k.namespaced
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        ns = obj.get("metadata", {}).get("namespace") or "default"
        return f"{base}/namespaces/{ns}/{plural}" if namespaced else f"{base}/{plural}"

    def create(self, obj: dict[str, Any]) -> str:
        url = self.collection(obj)
        status, body = self.request("POST", url, obj)
        if status == 409 and obj["kind"] == "Namespace":  # kept between worlds: take this world's labels
            current = self.request("GET", f"{url}/{obj['metadata']['name']}")[1]
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}}
            status, body = self.request("PUT", f"{url}/{obj['metadata']['name']}", obj)
        if status not in (200, 201):
            raise ClusterFailed(f"creating {obj['kind']} {obj['metadata'].get('name')}: HTTP {status}: {body}")
        self.created.append(f"{url}/{obj['metadata']['name']}")
        return self.created[-1]

    def grant(self, user: str, name: str, rules: list[dict[str, Any]], namespaces: Iterable[str]) -> None:
        """A Role with these rules in each namespace, bound to the user (deleted with the world)."""
        for ns in namespaces:
            self.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                         "metadata": {"name": name, "namespace": ns}, "rules": rules})
            self.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                         "metadata": {"name": name, "namespace": ns},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                         "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]})

    def apply(self, objects: Iterable[dict[str, Any]]) -> None:
        for obj in objects:
            if obj:
                self.create(obj)

    def clear(self) -> None:
        """Deletes the current world (pods at once: no kubelet confirms a graceful delete) and resets the
        labels of namespaces kept for the next world."""
        for url in reversed(self.created):
            if "/namespaces/" in url and url.count("/") == 4 and url.rsplit("/", 1)[1] in KEEP_NAMESPACES:
                continue
            if url.startswith("/api/v1/namespaces/") and url.count("/") == 4:
                continue  # namespaces stay (deleting one takes the namespace controller seconds)
            status, body = self.request("DELETE", url + "?gracePeriodSeconds=0")
            if status not in (200, 202, 404):
                raise ClusterFailed(f"deleting {url}: HTTP {status}: {body}")
        for ns in self.request("GET", "/api/v1/namespaces")[1]["items"]:
            if ns["metadata"].get("labels") and ns["metadata"]["name"] not in KEEP_NAMESPACES:
                ns["metadata"]["labels"] = {}
                self.request("PUT", f"/api/v1/namespaces/{ns['metadata']['name']}", ns)
        self.created.clear()

    def load_world(self, objects: list[dict[str, Any]], down: frozenset[str] = frozenset()) -> None:
        """Namespaces first, then everything else; pods bound to the node with their status set (the pods
        named in `down` to the node whose kubelet is down); Endpoints of Services with a selector left to
        the controller-manager, which is waited for."""
        self.clear()
        if self.kubelet is not None:
            self.kubelet.reset()
        objects = _with_pod_ips(objects)
        namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
        wanted = {o["metadata"].get("namespace") for o in objects if kind_of(o).namespaced} - {None}
        objects = [*(o for o in objects if o["kind"] == "Namespace"),
                   *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                     for ns in sorted(wanted - namespaces - KEEP_NAMESPACES)),
                   *(o for o in objects if o["kind"] != "Namespace")]
        selected = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects
                    if o["kind"] == "Service" and (o.get("spec") or {}).get("selector")}
        for obj in objects:
            if obj["kind"] == "Endpoints" and (obj["metadata"].get("namespace"), obj["metadata"]["name"]) in selected:
                continue
            self.create(_valid(obj, NODE_DOWN if obj["metadata"].get("name") in down else NODE))
            if obj["kind"] in STATUS_KINDS and obj.get("status"):  # written through the status subresource
                url = self.created[-1]
                status, body = self.request("PATCH", f"{url}/status", {"status": obj["status"]},
                                            "application/merge-patch+json")
                if status != 200:
                    raise ClusterFailed(f"setting the status of {url}: HTTP {status}: {body}")
        self._last_endpoints = None
        self._wait(lambda: self._endpoints_settled(objects), "Endpoints of ready pods", 30)

    def _endpoints_settled(self, objects: list[dict[str, Any]]) -> bool:
        """Every Service with a selector has its Endpoints, and they stopped changing: the controller
        has seen every pod (it leaves out pods whose named port it cannot resolve, so counting ready
        pods would wait for ever on some worlds)."""
        seen = []
        for svc in objects:
            spec = svc.get("spec") or {}
            if svc["kind"] != "Service" or not spec.get("selector") or spec.get("type") == "ExternalName":
                continue
            ns, name = svc["metadata"].get("namespace"), svc["metadata"]["name"]
            status, endpoints = self.request("GET", f"/api/v1/namespaces/{ns}/endpoints/{name}")
            if status != 200:
                return False
            seen.append(json.dumps(endpoints.get("subsets"), sort_keys=True))
        settled = seen == getattr(self, "_last_endpoints", None)
        self._last_endpoints = seen
        return settled


# Kinds whose status is not taken on create: the kubelet writes pods', istiod Gateways' and routes'.
STATUS_KINDS = ("Pod", "Gateway", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")


def _with_pod_ips(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A running pod has an IP, and the endpoints controller lists only pods that have one. Scenario
    files often leave it out (their Endpoints say which pod is where); give each pod the IP its files'
    Endpoints list for it, else one of its own, so the controller makes the Endpoints the files hold."""
    listed = {}
    for ep in (o for o in objects if o["kind"] == "Endpoints"):
        for subset in ep.get("subsets") or []:
            for address in [*(subset.get("addresses") or []), *(subset.get("notReadyAddresses") or [])]:
                ref = address.get("targetRef") or {}
                if ref.get("name") and address.get("ip"):
                    listed[(ref.get("namespace") or ep["metadata"].get("namespace"), ref["name"])] = address["ip"]
    out = []
    for n, obj in enumerate(objects):
        if obj["kind"] == "Pod" and isinstance(obj.get("status"), dict) and not obj["status"].get("podIP"):
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            obj = {**obj, "status": {**obj["status"], "podIP": listed.get(key, f"10.250.{n // 250}.{n % 250 + 1}")}}
        out.append(obj)
    return out


def _valid(obj: dict[str, Any], node: str = NODE) -> dict[str, Any]:
    """What the real API requires and scenario files leave out: images, a Deployment's selector, a
    Pod's node. Nothing a check reads is changed."""
    obj = json.loads(json.dumps(obj))
    obj.get("metadata", {}).pop("creationTimestamp", None)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if obj["kind"] == "Pod" and spec is not None:
        spec["nodeName"] = node
        for c in spec.get("containers") or []:
            c.setdefault("image", f"example.invalid/{c.get('name', 'app')}:1")
    if obj["kind"] == "Deployment" and spec is not None:
        template = spec.setdefault("template", {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {}) or {"app": obj["metadata"]["name"]}
        template["metadata"]["labels"] = labels
        spec.setdefault("selector", {"matchLabels": labels})
        for c in template.setdefault("spec", {}).get("containers") or []:
            c.setdefault("image", f"example.invalid/{c.get('name', 'app')}:1")
    return obj
