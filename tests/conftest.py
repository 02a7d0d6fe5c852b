"""Shared test fixtures: scenario worlds, a fake API server per test, kubeconfigs, and the real CLI.

Live tests run the real CLI (`kubectl_meshdoctor.cli.app`) through typer's CliRunner, which goes
through the real `kubernetes` client and real HTTP to the fake server; nothing is monkeypatched.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kubectl_meshdoctor.cli import app
from tests.fakeapi.server import Access, FakeApiServer, FakeCluster, kind_of, load_objects

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
BASE = SCENARIOS / "base.yaml"
EXAMPLES = ROOT / "examples"


def scenario_files(*names: str) -> list[Path]:
    """The base world plus the named scenario files (relative to tests/scenarios, without .yaml)."""
    return [BASE, *(SCENARIOS / f"{n}.yaml" for n in names)]


def objects_of(paths: list[Path], namespace: str = "default") -> list[dict[str, Any]]:
    """The objects of scenario files; like `kubectl apply`, namespaced ones without a namespace get one
    and later objects replace earlier ones with the same identity."""
    texts = []
    for p in paths:
        texts.extend(f.read_text() for f in sorted(p.glob("*.yaml"))) if p.is_dir() else texts.append(p.read_text())
    applied: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for obj in map(_in_a_cluster, load_objects(texts)):
        meta = obj.setdefault("metadata", {})
        if kind_of(obj).namespaced and not meta.get("namespace"):
            meta["namespace"] = namespace
        # a later file's object replaces an earlier one of the same identity, as `kubectl apply` would
        applied[(obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))] = obj
    return list(applied.values())


def _in_a_cluster(doc: dict[str, Any]) -> dict[str, Any]:
    """A bare mesh config file is, in a cluster, the `mesh` key of the ConfigMap istio-system/istio
    (`kubectl create configmap istio -n istio-system --from-file=mesh=FILE`)."""
    if "kind" in doc or "apiVersion" in doc:
        return doc
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
            "data": {"mesh": yaml.safe_dump(doc)}}


def write_kubeconfig(path: Path, server: str, token: str | None, namespace: str = "default",
                     context: str = "fake") -> Path:
    user: dict[str, Any] = {"token": token} if token else {}
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "fake-cluster", "cluster": {"server": server}}],
        "users": [{"name": "fake-user", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": "fake-cluster", "user": "fake-user",
                                                   "namespace": namespace}}],
    }))
    return path


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    runner = CliRunner()
    result = runner.invoke(app, list(args), env={"NO_COLOR": "", "KUBECONFIG": "", **(env or {})}, input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


@dataclass
class LiveCluster:
    api: FakeApiServer
    kubeconfig: Path
    tmp: Path

    @property
    def cluster(self) -> FakeCluster:
        return self.api.cluster

    def kubeconfig_for(self, token: str | None, namespace: str = "default") -> Path:
        return write_kubeconfig(self.tmp / f"kubeconfig-{token or 'anonymous'}-{namespace}", self.api.url,
                                token, namespace)

    def run(self, *args: str, token: str | None = "admin") -> Result:
        cfg = self.kubeconfig if token == "admin" else self.kubeconfig_for(token)
        return run_cli(*args, "--kubeconfig", str(cfg))

    def methods(self) -> set[str]:
        return {r.method for r in self.cluster.requests}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    """live(objects, **FakeCluster options) -> a running fake API server and an admin kubeconfig."""
    started: list[FakeApiServer] = []

    def start(objects: list[dict[str, Any]], tokens: dict[str, Access] | None = None, **kw: Any) -> LiveCluster:
        tokens = {"admin": Access("admin"), **(tokens or {})}
        api = FakeApiServer(FakeCluster(objects, tokens=tokens, **kw)).__enter__()
        started.append(api)
        return LiveCluster(api, write_kubeconfig(tmp_path / "kubeconfig", api.url, "admin"), tmp_path)

    yield start
    for api in started:
        api.__exit__(None, None, None)
        assert {r.method for r in api.cluster.requests} <= {"GET"}, "the plugin must never write"


@contextmanager
def silent_server() -> Iterator[tuple[str, int]]:
    """A TCP server that accepts connections and never sends a byte (the timeout path)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def offline(*paths: Path | str, args: tuple[str, ...] = ()) -> list[str]:
    out = []
    for p in paths:
        out += ["-f", str(p)]
    return [*out, "--offline", *args]


def run_world(mode: str, live: Any, files: list[Path], *args: str) -> Result:
    """Run the CLI on a scenario world from files (--offline) or served by the fake API server (live);
    `args` are the command and its arguments, without -f/--offline or --kubeconfig."""
    if mode == "offline":
        return run_cli(*args, *offline(*files))
    return live(objects_of(files)).run(*args)


def found(doc: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["code"] == code]
