"""--probe: MD604 (the app's HTTP version) and MD303 (istiod's /debug/syncz), end to end.

The fake API server's port-forward subresource connects the real client's websocket to local TCP
servers: Python's http.server (HTTP/1.0 unless told otherwise), the same told to speak HTTP/1.1, a
server that accepts and never answers, and a small istiod that serves /debug/syncz in Istio's format.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import BASE, SCENARIOS, found, objects_of, silent_server
from tests.fakeapi.server import KINDS, Access

WORLD = [BASE, SCENARIOS / "http10" / "reviews.yaml"]
ISTIOD_POD = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "istiod-5d8f7c9b6-q2x7w", "namespace": "istio-system",
                           "labels": {"app": "istiod", "istio": "pilot"}},
              "spec": {"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.22.3"}]},
              "status": {"phase": "Running", "podIP": "10.0.9.9", "conditions": [{"type": "Ready", "status": "True"}]}}


class _App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/debug/config_dump"):  # as istiod answers for a proxy not connected to it
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(self.server.answer).encode() if self.path == "/debug/syncz" else b"reviews\n"  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if self.path == "/debug/syncz" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


class _App11(_App):
    protocol_version = "HTTP/1.1"


def _serve(handler: type, answer: Any = None) -> Iterator[tuple[str, int]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.answer = answer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[:2]  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http10_app() -> Iterator[tuple[str, int]]:
    yield from _serve(_App)


@pytest.fixture
def http11_app() -> Iterator[tuple[str, int]]:
    yield from _serve(_App11)


@pytest.fixture
def silent_app() -> Iterator[tuple[str, int]]:
    with silent_server() as address:
        yield address


def syncz_entry(pod: str, sent: str = "2026-11-27T01:00:00Z/41", acked: str | None = None, **overrides: str):
    """One proxy as istiod's /debug/syncz lists it (pilot/pkg/xds SyncStatus)."""
    entry = {"cluster_id": "Kubernetes", "proxy": f"{pod}.bookinfo", "proxy_type": "sidecar",
             "proxy_version": "1.22.3", "istio_version": "1.22.3"}
    for xds in ("cluster", "listener", "route", "endpoint"):
        entry[f"{xds}_sent"] = sent
        entry[f"{xds}_acked"] = sent if acked is None else acked
    return entry | overrides


def probe_cluster(live, forwards: dict, istiod: Any = None, **kw):
    objects = objects_of(WORLD) + ([ISTIOD_POD] if istiod is not None else [])
    return live(objects, forwards=forwards, **kw)


def run_probe(cluster, *extra: str, token: str = "admin"):
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--probe", "--no-logs", *extra,
                         token=token)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def status(doc: dict, code: str) -> dict:
    return next(c for c in doc["checks"] if c["code"] == code)


@pytest.mark.parametrize("istiod", [[]], indirect=True)
def test_an_http10_application_is_reported_with_its_status_line(live, http10_app, istiod):
    cluster = probe_cluster(live, {("bookinfo", "reviews-v1-abc12-x1", 9080): http10_app,
                                   ("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod}, istiod=True)
    result = run_probe(cluster)
    [finding] = found(result.json(), "MD604")
    assert finding["evidence"]["statusLine"] == "HTTP/1.0 200 OK"
    assert finding["evidence"]["pod"] == "bookinfo/reviews-v1-abc12-x1" and finding["port"] == 9080
    # MD604 is an info; the run is incomplete only because this istiod knows no client proxy's configuration
    assert result.exit_code == 4 and status(result.json(), "MD801")["status"] == "skipped"
    forwards = [r for r in cluster.cluster.requests if r.path.endswith("/portforward")]
    # the app; istiod's syncz; then a client proxy and one of the host's proxies: each one's own Envoy admin
    # (15000), then what istiod generates for it
    istiod_port = ("/api/v1/namespaces/istio-system/pods/istiod-5d8f7c9b6-q2x7w/portforward", "15014")
    assert [(r.path, r.query["ports"]) for r in forwards] == [
        ("/api/v1/namespaces/bookinfo/pods/reviews-v1-abc12-x1/portforward", "9080"), istiod_port,
        ("/api/v1/namespaces/bookinfo/pods/productpage-v1-123ab-p1/portforward", "15000"), istiod_port,
        ("/api/v1/namespaces/bookinfo/pods/reviews-v1-abc12-x1/portforward", "15000"), istiod_port]


def test_an_http11_application_passes(live, http11_app):
    cluster = probe_cluster(live, {("bookinfo", "reviews-v1-abc12-x1", 9080): http11_app})
    doc = run_probe(cluster).json()
    assert status(doc, "MD604")["status"] == "passed"


def test_a_silent_application_is_reported_within_the_bounds(live, silent_app):
    cluster = probe_cluster(live, {("bookinfo", "reviews-v1-abc12-x1", 9080): silent_app})
    started = time.monotonic()
    result = run_probe(cluster)
    elapsed = time.monotonic() - started
    md604 = status(result.json(), "MD604")
    assert md604["status"] == "skipped"
    assert "reviews-v1-abc12-x1:9080: no answer within 3s" in md604["reason"]
    assert result.exit_code == 4
    assert elapsed < 2 + 3 + 5  # connect + read bounds, plus the rest of the run; never a hang


def test_a_port_nobody_listens_on_is_reported(live):
    cluster = probe_cluster(live, {})
    md604 = status(run_probe(cluster).json(), "MD604")
    assert md604["status"] == "skipped" and "connection refused" in md604["reason"]


def test_forbidden_port_forward_skips_the_probes_with_the_reason(live, http10_app):
    no_portforward = Access("oncall", frozenset((k.plural, None) for k in KINDS))
    cluster = probe_cluster(live, {("bookinfo", "reviews-v1-abc12-x1", 9080): http10_app}, istiod=True,
                            tokens={"oncall": no_portforward})
    result = run_probe(cluster, token="oncall")
    doc = result.json()
    md604, md303 = status(doc, "MD604"), status(doc, "MD303")
    assert md604["status"] == md303["status"] == "skipped"
    assert md604["reason"].startswith("forbidden: get pods/portforward")
    assert 'User "oncall" cannot create resource "pods/portforward"' in md604["reason"]
    # istiod is asked through exec when the port-forward is denied; that is denied too
    assert md303["reason"].startswith("no istiod answered /debug/syncz: istio-system/istiod-5d8f7c9b6-q2x7w: "
                                      "port-forward: forbidden")
    assert 'cannot create resource "pods/exec"' in md303["reason"]
    assert result.exit_code == 4  # nothing else failed


def test_without_probe_nothing_is_forwarded(live, http10_app):
    cluster = probe_cluster(live, {("bookinfo", "reviews-v1-abc12-x1", 9080): http10_app}, istiod=True)
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--no-logs")
    doc = result.json()
    assert {status(doc, c)["status"] for c in ("MD604", "MD303")} == {"not-run"}
    assert "--probe" in status(doc, "MD604")["reason"]
    assert not [r for r in cluster.cluster.requests if r.path.endswith("/portforward")]
    assert result.exit_code == 0


# ------------------------------------------------------------------------------------------ MD303

@pytest.fixture
def istiod(request) -> Iterator[tuple[str, int]]:
    yield from _serve(_App, request.param)


SYNCED = [syncz_entry("reviews-v1-abc12-x1"), syncz_entry("reviews-v2-def34-x2"), syncz_entry("productpage-v1-1")]


@pytest.mark.parametrize("istiod", [SYNCED], indirect=True)
def test_all_proxies_synced_passes(live, istiod):
    cluster = probe_cluster(live, {("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod}, istiod=True)
    doc = run_probe(cluster).json()
    assert status(doc, "MD303")["status"] == "passed"
    syncz = [r for r in cluster.cluster.requests if r.path.endswith("/portforward") and "istiod" in r.path]
    assert [r.query["ports"] for r in syncz] == ["15014"] * 3  # syncz; a client's and a host proxy's configuration


STALE = [syncz_entry("reviews-v1-abc12-x1"),
         syncz_entry("reviews-v2-def34-x2", acked="2026-11-27T00:59:00Z/40") | {"cluster_acked": ""}]


@pytest.mark.parametrize("istiod", [STALE], indirect=True)
def test_a_stale_proxy_is_named_with_the_types_and_istiod(live, istiod):
    cluster = probe_cluster(live, {("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod}, istiod=True)
    [finding] = found(run_probe(cluster).json(), "MD303")
    proxies = finding["evidence"]["proxies"]
    assert proxies["reviews-v1-abc12-x1.bookinfo"]["CDS"] == "SYNCED"
    assert proxies["reviews-v2-def34-x2.bookinfo"] == {
        "istiod": "istio-system/istiod-5d8f7c9b6-q2x7w", "CDS": "STALE (never acknowledged)", "LDS": "STALE",
        "RDS": "STALE", "EDS": "STALE"}
    assert "reviews-v2-def34-x2.bookinfo: CDS STALE (never acknowledged), LDS STALE" in finding["message"]


@pytest.mark.parametrize("istiod", [[syncz_entry("reviews-v1-abc12-x1")]], indirect=True)
def test_a_proxy_missing_from_every_istiod_is_not_connected(live, istiod):
    cluster = probe_cluster(live, {("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod}, istiod=True)
    [finding] = found(run_probe(cluster).json(), "MD303")
    assert finding["evidence"]["proxies"]["reviews-v2-def34-x2.bookinfo"] == {"connected": False}
    assert "not connected to any istiod" in finding["message"]


def test_syncz_reading_is_bounded_when_istiod_is_silent(live, silent_app):
    cluster = probe_cluster(live, {("istio-system", ISTIOD_POD["metadata"]["name"], 15014): silent_app},
                            istiod=True)
    md303 = status(run_probe(cluster).json(), "MD303")
    assert md303["status"] == "skipped" and "no istiod answered /debug/syncz" in md303["reason"]


@pytest.mark.parametrize("istiod", [STALE], indirect=True)
def test_syncz_is_read_through_exec_when_port_forward_is_denied(live, istiod):
    exec_not_portforward = Access("oncall", frozenset({(k.plural, None) for k in KINDS} | {("pods/exec", None)}))
    cluster = probe_cluster(live, {("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod}, istiod=True,
                            tokens={"oncall": exec_not_portforward})
    doc = run_probe(cluster, token="oncall").json()
    [finding] = found(doc, "MD303")
    assert finding["evidence"]["istiods"] == {"istio-system/istiod-5d8f7c9b6-q2x7w": "read"}
    assert finding["evidence"]["proxies"]["reviews-v2-def34-x2.bookinfo"]["LDS"] == "STALE"
    # syncz; then two proxies' configuration: each one's own (pilot-agent in istio-proxy), then istiod's
    execs = [(r.path.split("/")[-2], r.query["container"]) for r in cluster.cluster.requests
             if r.path.endswith("/exec")]
    istiod = ("istiod-5d8f7c9b6-q2x7w", "discovery")
    assert execs == [istiod, ("productpage-v1-123ab-p1", "istio-proxy"), istiod,
                     ("reviews-v1-abc12-x1", "istio-proxy"), istiod]



def test_no_ready_pod_to_probe_is_a_skip_not_a_pass(live):
    objects = objects_of(WORLD)
    for pod in (o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("reviews")):
        pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    doc = run_probe(live(objects)).json()
    md604 = status(doc, "MD604")
    assert md604["status"] == "skipped" and md604["reason"].startswith("no ready pod of reviews.bookinfo")


def test_a_probe_that_answers_on_one_port_but_not_the_other_is_partial(live, http11_app):
    """Port 9080 answers HTTP/1.1; nobody listens behind 9090: what 9090 would have said is unknown, so
    MD604 finds nothing and is partial, naming the port, not passed."""
    objects = objects_of(WORLD)
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "reviews")
    service["spec"]["ports"].append({"name": "http-admin", "port": 9090, "targetPort": 9090})
    for pod in (o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("reviews")):
        pod["spec"]["containers"][0]["ports"].append({"containerPort": 9090})
    doc = run_probe(live(objects, forwards={("bookinfo", "reviews-v1-abc12-x1", 9080): http11_app})).json()
    md604 = status(doc, "MD604")
    assert md604["status"] == "partial" and "reviews-v1-abc12-x1:9090" in md604["reason"], md604
