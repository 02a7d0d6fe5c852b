"""Predicted vs actual (issue 23, first part): a saved config_dump compared with the model, offline and
live; each broken dump is the healthy one with one change, made here."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import EXAMPLES, SCENARIOS, found, objects_of, offline, run_cli, silent_server
from tests.fakeapi.server import KINDS, Access

WORLD = EXAMPLES / "bookinfo-healthy"
HEALTHY = SCENARIOS / "configdumps" / "productpage-healthy.json"
POD = "bookinfo/productpage-v1-6b746f74dc-9stvs"
REVIEWS = "reviews.bookinfo.svc.cluster.local"


def dump_with(tmp_path: Path, change: Any, base: Path = HEALTHY) -> Path:
    """A copy of a healthy dump with one change, written next to the test."""
    doc = json.loads(base.read_text())
    change(doc)
    path = tmp_path / f"changed-{base.name}"
    path.write_text(json.dumps(doc))
    return path


def clusters(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))["dynamic_active_clusters"]


def reviews_routes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    routes = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))
    vhost = next(v for v in routes["dynamic_route_configs"][0]["route_config"]["virtual_hosts"]
                 if v["name"] == f"{REVIEWS}:9080")
    return vhost["routes"]


def routed_by(routes_of: Any, vs_name: str) -> Any:
    """A change to a dump: the routes `routes_of(doc)` finds say they come from VirtualService
    bookinfo/VS_NAME (Istio's route metadata, `filter_metadata.istio.config`)."""
    def change(doc: dict[str, Any]) -> None:
        for r in routes_of(doc):
            r["metadata"]["filter_metadata"]["istio"]["config"] = \
                f"/apis/networking.istio.io/v1/namespaces/bookinfo/virtual-service/{vs_name}"
    return change


def host(*extra: str, name: str = "reviews") -> dict[str, Any]:
    result = run_cli("host", name, "-n", "bookinfo", "-o", "json", *offline(WORLD), *extra)
    assert "Traceback" not in result.stderr, result.stderr
    return result.json() | {"exitCode": result.exit_code}


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {c["code"]: c["status"] for c in doc["checks"] if c["code"].startswith("MD80")}


def test_a_dump_that_agrees_confirms_the_model_and_names_the_proxy():
    doc = host("--config-dump", str(HEALTHY))
    assert statuses(doc) == {**dict.fromkeys(("MD801", "MD802", "MD803", "MD805"), "passed"), "MD804": "not-run"}
    md804 = next(c for c in doc["checks"] if c["code"] == "MD804")  # a client's dump: no server side to compare
    assert md804["reason"].startswith("nothing to compare: no proxy given is one of the host's own pods")
    assert [n for n in doc["notes"] if n.startswith(f"confirmed by the proxy configuration of {POD}")]
    assert doc["exitCode"] == 0


def test_without_a_dump_the_comparison_does_not_apply():
    doc = host()
    assert set(statuses(doc).values()) == {"not-run"} and doc["exitCode"] == 0


def test_a_subset_cluster_the_proxy_lacks_is_md801_with_predicted_and_actual(tmp_path):
    path = dump_with(tmp_path, lambda d: clusters(d).__setitem__(slice(None), [
        c for c in clusters(d) if c["cluster"]["name"] != f"outbound|9080|v3|{REVIEWS}"]))
    [finding] = found(host("--config-dump", str(path)), "MD801")
    assert finding["evidence"]["missing"] == [f"outbound|9080|v3|{REVIEWS}"]
    assert f"outbound|9080|v3|{REVIEWS}" in finding["evidence"]["predicted"]
    assert f"outbound|9080|v3|{REVIEWS}" not in finding["evidence"]["actual"]
    assert finding["clientNamespace"] == "bookinfo" and "istioctl proxy-status" in finding["remediation"][0]


def test_plaintext_where_the_model_predicts_auto_mtls_is_md803(tmp_path):
    def plaintext(doc: dict[str, Any]) -> None:
        for c in clusters(doc):
            if c["cluster"]["name"] == f"outbound|9080||{REVIEWS}":
                del c["cluster"]["transport_socket_matches"]
    [finding] = found(host("--config-dump", str(dump_with(tmp_path, plaintext))), "MD803")
    assert (finding["evidence"]["predicted"], finding["evidence"]["actual"]) == (
        "auto (mTLS to tlsMode=istio pods)", "plaintext")
    assert finding["port"] == 9080 and finding["subset"] is None


def test_routes_from_another_virtualservice_are_md802(tmp_path):
    other = routed_by(reviews_routes, "reviews-canary")
    [finding] = found(host("--config-dump", str(dump_with(tmp_path, other))), "MD802")
    assert (finding["evidence"]["predicted"], finding["evidence"]["actual"]) == ("bookinfo/reviews",
                                                                                 ["bookinfo/reviews-canary"])


def test_the_same_dump_compares_live_through_the_fake_api_server(live, tmp_path):
    path = dump_with(tmp_path, lambda d: clusters(d).__setitem__(slice(None), [
        c for c in clusters(d) if c["cluster"]["name"] != f"outbound|9080|v1|{REVIEWS}"]))
    doc = live(objects_of([WORLD])).run("host", "reviews", "-n", "bookinfo", "-o", "json", "--config-dump",
                                        str(path)).json()
    assert [f["evidence"]["missing"] for f in found(doc, "MD801")] == [[f"outbound|9080|v1|{REVIEWS}"]]


@pytest.mark.parametrize("content, error", [
    ("{not json", "not a JSON config_dump"),
    ('{"configs": []}', "the dump names no pod (no bootstrap node id); give it as --config-dump NAMESPACE/POD="),
    ('["a list"]', "not an Envoy config_dump (no `configs` list)")])
def test_a_file_that_is_not_a_usable_dump_is_a_one_line_error(tmp_path, content, error):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run_cli("host", "reviews", "-n", "bookinfo", *offline(WORLD), "--config-dump", str(path))
    assert result.exit_code == 2 and error in result.stderr and result.stderr.count("\n") == 1


def test_the_pod_can_be_named_when_the_dump_does_not_say(tmp_path):
    doc = json.loads(HEALTHY.read_text())
    doc["configs"] = [c for c in doc["configs"] if not c["@type"].endswith("BootstrapConfigDump")]
    path = tmp_path / "istiod.json"  # istiod's /debug/config_dump carries no bootstrap
    path.write_text(json.dumps(copy.deepcopy(doc)))
    result = host("--config-dump", f"bookinfo/productpage-x={path}")
    assert statuses(result)["MD801"] == "passed"
    assert [n for n in result["notes"] if "confirmed by the proxy configuration of bookinfo/productpage-x" in n]


def test_an_http_port_the_proxy_forwards_as_plain_tcp_is_md805(tmp_path):
    """reviews' port is named http: the model derives HTTP; this proxy has no virtual host for it and a
    tcp_proxy listener to its cluster (as for a port named tcp)."""
    def as_tcp(doc: dict[str, Any]) -> None:
        routes = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))
        config = routes["dynamic_route_configs"][0]["route_config"]
        config["virtual_hosts"] = [v for v in config["virtual_hosts"] if v["name"] != f"{REVIEWS}:9080"]
        listeners = next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))
        listeners["dynamic_listeners"] = [{"name": "10.96.0.20_9080", "active_state": {
            "version_info": "2026-11-27T01:00:00Z/42", "listener": {
                "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "10.96.0.20_9080",
                "address": {"socket_address": {"address": "10.96.0.20", "port_value": 9080}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                    "stat_prefix": f"outbound|9080||{REVIEWS}", "cluster": f"outbound|9080||{REVIEWS}"}}]}],
                "traffic_direction": "OUTBOUND"}}}]
    doc = host("--config-dump", str(dump_with(tmp_path, as_tcp)))
    [finding] = found(doc, "MD805")
    assert (finding["evidence"]["predicted"], finding["evidence"]["actual"], finding["port"]) == ("HTTP", "TCP", 9080)
    assert found(doc, "MD802") == []  # no virtual host: nothing to say about its routes
    assert found(host("--config-dump", str(HEALTHY)), "MD805") == []


# ------------------------------------------------------------------------------- --probe: from istiod

ISTIOD_POD = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "istiod-7b69f7d5c4-x2x9z", "namespace": "istio-system",
                           "labels": {"app": "istiod", "istio": "pilot"}},
              "spec": {"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.22.3"}]},
              "status": {"phase": "Running", "podIP": "10.244.0.5",
                         "conditions": [{"type": "Ready", "status": "True"}]}}


class _Istiod(BaseHTTPRequestHandler):
    """istiod's monitoring port: /debug/config_dump?proxyID=POD.NS for the proxies connected to it (404
    for others, as istiod answers), /debug/syncz; or, as a proxy's Envoy admin, /config_dump (the dump
    stored under "admin")."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        proxy = parse_qs(url.query).get("proxyID", [""])[0]
        dumps = self.server.dumps  # type: ignore[attr-defined]
        if url.path == "/debug/config_dump" and proxy in dumps:
            code, body = 200, json.dumps(dumps[proxy]).encode()
        elif url.path == "/config_dump" and "admin" in dumps:
            code, body = 200, json.dumps(dumps["admin"]).encode()
        elif url.path == "/debug/syncz":
            code, body = 200, json.dumps(self.server.syncz).encode()  # type: ignore[attr-defined]
        else:
            code, body = 404, b"Proxy not connected to this Pilot instance"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def istiod() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Istiod)
    server.dumps = {}  # type: ignore[attr-defined]
    server.syncz = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_probe_reads_a_client_proxys_configuration_from_istiod_and_compares_it(live, istiod):
    doc = json.loads(HEALTHY.read_text())
    doc["configs"] = [c for c in doc["configs"] if not c["@type"].endswith("BootstrapConfigDump")]  # as istiod serves
    clusters(doc)[:] = [c for c in clusters(doc) if c["cluster"]["name"] != f"outbound|9080|v2|{REVIEWS}"]
    # the client proxy asked for: one ready sidecar of the client namespace, the first by name
    istiod.dumps["details-v1-5f4d584748-4jzpv.bookinfo"] = doc
    cluster = live([*objects_of([WORLD]), ISTIOD_POD],
                   forwards={("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod.server_address[:2]})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--probe", "--no-logs")
    [finding] = found(result.json(), "MD801")
    assert finding["evidence"]["proxy"] == "bookinfo/details-v1-5f4d584748-4jzpv"
    assert finding["evidence"]["missing"] == [f"outbound|9080|v2|{REVIEWS}"]
    assert finding["evidence"]["file"] == f"istiod istio-system/{ISTIOD_POD['metadata']['name']} /debug/config_dump"
    asked = [r for r in cluster.cluster.requests if r.path.endswith("/portforward") and "istiod" in r.path]
    assert asked and all(r.method == "GET" for r in cluster.cluster.requests)  # read-only: the upgrade is a GET


def test_a_proxy_istiod_does_not_know_is_a_skip_with_why_never_a_pass(live, istiod):
    cluster = live([*objects_of([WORLD]), ISTIOD_POD],
                   forwards={("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod.server_address[:2]})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--probe", "--no-logs")
    doc = result.json()
    assert statuses(doc) == dict.fromkeys(("MD801", "MD802", "MD803", "MD804", "MD805"), "skipped")
    reason = next(c["reason"] for c in doc["checks"] if c["code"] == "MD801")
    assert reason.startswith("error: get proxies' configuration") and "404" in reason
    assert result.exit_code == 4
    unread = "the configuration of proxy details-v1-5f4d584748-4jzpv.bookinfo could not be read: Envoy admin: "
    assert [n for n in doc["notes"] if n.startswith(unread) and "404" in n.partition("istiod: ")[2]], doc["notes"]


def test_a_denied_probe_skips_the_comparison_with_the_apis_reason(live, istiod):
    no_forward_no_exec = Access("oncall", frozenset({(k.plural, None) for k in KINDS}))
    cluster = live([*objects_of([WORLD]), ISTIOD_POD], tokens={"oncall": no_forward_no_exec},
                   forwards={("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod.server_address[:2]})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--probe", "--no-logs", token="oncall")
    doc = result.json()
    md801 = next(c for c in doc["checks"] if c["code"] == "MD801")
    assert md801["status"] == "skipped" and md801["reason"].startswith("forbidden: get proxies' configuration")
    assert "cannot create resource" in md801["reason"] and result.exit_code == 4


DETAILS = "details-v1-5f4d584748-4jzpv"  # the client proxy --probe picks: the first ready sidecar by name


def without_v2(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    clusters(doc)[:] = [c for c in clusters(doc) if c["cluster"]["name"] != f"outbound|9080|v2|{REVIEWS}"]
    return doc


def stub(dumps: dict[str, Any], syncz: list[dict[str, Any]] | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Istiod)
    server.dumps, server.syncz = dumps, syncz or []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def probe_with(live: Any, held: dict[str, Any] | None, generated: dict[str, Any], syncz: list[dict[str, Any]],
               tokens: dict[str, Access] | None = None, pod: str = f"bookinfo/{DETAILS}") -> tuple[Any, Any]:
    """istiod generating `generated` for one proxy (the details client by default), whose own Envoy admin
    holds `held` (None: its admin port answers nothing)."""
    namespace, name = pod.split("/")
    istiod = stub({f"{name}.{namespace}": generated}, syncz)
    envoy = stub({"admin": held} if held is not None else {})
    cluster = live([*objects_of([WORLD]), ISTIOD_POD], tokens=tokens, forwards={
        ("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod.server_address[:2],
        (namespace, name, 15000): envoy.server_address[:2]})
    return cluster, (istiod, envoy)


def probe_run(live: Any, held: dict[str, Any] | None, generated: dict[str, Any], syncz: list[dict[str, Any]],
              tokens: dict[str, Access] | None = None, token: str | None = None, pod: str = f"bookinfo/{DETAILS}",
              name: str = "reviews") -> tuple[Any, Any]:
    """`host NAME --probe` against probe_with's stand-ins, which are stopped after: (result, cluster)."""
    cluster, servers = probe_with(live, held, generated, syncz, tokens, pod)
    try:
        result = cluster.run("host", name, "-n", "bookinfo", "-o", "json", "--probe", "--no-logs",
                             **({"token": token} if token else {}))
    finally:
        for server in servers:
            server.shutdown()
    return result, cluster


def syncz_of(proxy: str, rds_acked: str = "n41") -> dict[str, Any]:
    """One proxy as istiod's /debug/syncz lists it (pilot/pkg/xds SyncStatus: *_sent / *_acked nonces)."""
    return {"proxy": proxy, "istio_version": "1.28.0", **{f"{t}_{k}": "n41" for t in (
        "cluster", "listener", "endpoint") for k in ("sent", "acked")}, "route_sent": "n41", "route_acked": rds_acked}


def test_a_proxy_that_holds_less_than_istiod_generates_is_stale_config_with_its_sync_state(live):
    """The Envoy admin (port 15000 through a port-forward) holds no v2 cluster; istiod generates it now
    and syncz says the proxy has not acknowledged the last push: the cause is staleness, said as such."""
    generated = json.loads(HEALTHY.read_text())
    result, cluster = probe_run(live, without_v2(generated), generated, [syncz_of(f"{DETAILS}.bookinfo", "n40")])
    [finding] = found(result.json(), "MD801")
    assert finding["evidence"]["file"] == f"Envoy admin of {DETAILS}.bookinfo /config_dump"
    assert "Cause: stale configuration. istiod now generates something else for this proxy" in finding["message"]
    assert "istiod's syncz says CDS SYNCED, LDS SYNCED, RDS STALE, EDS SYNCED" in finding["message"]
    forwards = [r.query.get("ports") for r in cluster.cluster.requests if r.path.endswith("/portforward")]
    assert "15000" in forwards and all(r.method == "GET" for r in cluster.cluster.requests)


def test_a_proxy_that_holds_what_istiod_generates_is_the_models_difference_not_staleness(live):
    generated = without_v2(json.loads(HEALTHY.read_text()))
    result, _ = probe_run(live, generated, generated, [syncz_of(f"{DETAILS}.bookinfo")])
    [finding] = found(result.json(), "MD801")
    assert "Cause: not staleness: istiod generates exactly this for the proxy" in finding["message"]
    assert "RDS SYNCED" in finding["message"] and "the other findings for this proxy are unconfirmed" in \
        finding["message"]


def test_the_envoy_admin_is_read_through_pilot_agent_when_port_forward_is_denied(live):
    """exec allowed, port-forward not: `pilot-agent request GET config_dump` in istio-proxy (as istioctl)."""
    generated = json.loads(HEALTHY.read_text())
    exec_only = Access("oncall", frozenset({(k.plural, None) for k in KINDS} | {("pods/exec", None)}))
    result, cluster = probe_run(live, without_v2(generated), generated, [], tokens={"oncall": exec_only},
                                token="oncall")
    [finding] = found(result.json(), "MD801")
    assert finding["evidence"]["file"] == f"Envoy admin of {DETAILS}.bookinfo /config_dump"
    assert "Cause: stale configuration" in finding["message"]
    execs = [(r.path, r.query.get("container"), r.query.get("command")) for r in cluster.cluster.requests
             if r.path.endswith("/exec")]  # the fake records the last `command` word of the query
    assert (f"/api/v1/namespaces/bookinfo/pods/{DETAILS}/exec", "istio-proxy", "config_dump") in execs


def test_an_unreadable_envoy_admin_falls_back_to_istiod_and_says_so(live, istiod):
    generated = json.loads(HEALTHY.read_text())
    result, _ = probe_run(live, None, generated, [])
    doc = result.json()
    assert statuses(doc)["MD801"] == "passed"
    assert [n for n in doc["notes"] if n.startswith(f"the Envoy admin of proxy {DETAILS}.bookinfo could not be read")]


def _inbound(port_protocols: list[str]) -> dict[str, Any]:
    """reviews-v1's own proxy: the virtualInbound listener with chains for pod port 9080, in the shape of
    istio 1.28.0 istioctl/pkg/authz/testdata/configdump.yaml (per-port chains `0.0.0.0_PORT`)."""
    doc = json.loads(HEALTHY.read_text())
    doc["configs"] = [c for c in doc["configs"] if not c["@type"].endswith("BootstrapConfigDump")]
    chains = [{"filter_chain_match": {"destination_port": 15006}, "name": "virtualInbound-blackhole"}]
    for protocol in port_protocols:
        chain: dict[str, Any] = {"filter_chain_match": {"destination_port": 9080, "transport_protocol": protocol},
                                 "name": "0.0.0.0_9080",
                                 "filters": [{"name": "envoy.filters.network.http_connection_manager"}]}
        if protocol == "tls":
            chain["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "require_client_certificate": True}}
        chains.append(chain)
    listeners = next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))
    listeners["dynamic_listeners"] = [{"name": "virtualInbound", "active_state": {"listener": {
        "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "virtualInbound",
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": 15006}}, "filter_chains": chains,
        "traffic_direction": "INBOUND"}}}]
    return doc


@pytest.mark.parametrize("accepted, finding", [(["tls"], None), (["tls", "raw_buffer"], "PERMISSIVE")])
def test_a_host_proxy_that_also_accepts_plaintext_under_strict_is_md804(tmp_path, accepted, finding):
    path = tmp_path / "reviews-v1.json"
    path.write_text(json.dumps(_inbound(accepted)))
    doc = host("--config-dump", f"bookinfo/reviews-v1-7f6558b974-k2qhj={path}")
    found_ = found(doc, "MD804")
    if finding is None:
        assert found_ == [] and statuses(doc)["MD804"] == "passed"
        return
    [md804] = found_
    assert (md804["evidence"]["predicted"], md804["evidence"]["actual"], md804["evidence"]["podPort"]) == (
        "STRICT", finding, 9080)


def test_model_findings_say_whether_the_proxy_of_their_client_namespace_confirms_them(tmp_path):
    """examples/bookinfo: MD101 (sidecars in bookinfo use VirtualService bookinfo/reviews only). A bookinfo
    proxy that holds exactly that confirms it; one whose routes come from another VirtualService leaves it
    unconfirmed."""
    world = EXAMPLES / "bookinfo"
    agreeing = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(world), "--config-dump",
                       str(HEALTHY)).json()
    [md101] = found(agreeing, "MD101")
    assert md101["evidence"]["proxyConfirmed"] == [POD] and "unconfirmed" not in md101["evidence"]

    other = routed_by(reviews_routes, "reviews-jason")
    differing = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(world), "--config-dump",
                        str(dump_with(tmp_path, other))).json()
    [md101] = found(differing, "MD101")
    assert md101["evidence"]["unconfirmed"] == [POD] and "proxyConfirmed" not in md101["evidence"]
    assert found(differing, "MD802")[0]["evidence"]["actual"] == ["bookinfo/reviews-jason"]


def test_a_comparison_with_nothing_to_compare_is_not_run_never_passed():
    """A proxy of a namespace the TLS model has no client rows for (legacy calls nothing here): MD803 had
    no cluster to compare and says so; the clusters and routes it does hold are still compared."""
    doc = host("--config-dump", f"legacy/client-x={HEALTHY}")
    assert statuses(doc)["MD801"] == "passed" and statuses(doc)["MD803"] == "not-run"
    md803 = next(c for c in doc["checks"] if c["code"] == "MD803")
    assert md803["reason"].startswith("nothing to compare: no proxy given is a client the TLS model has")


ORDERED_REVIEWS = """\
  http:
  - name: jason
    match:
    - {name: by-user, headers: {end-user: {exact: jason}}}
    route: [{destination: {host: reviews, subset: v2}}]
  - name: canary
    match:
    - {uri: {prefix: /canary}, sourceLabels: {app: ratings}}
    route: [{destination: {host: reviews, subset: v3}}]
  - name: rest
    route: [{destination: {host: reviews, subset: v1}}]
  - name: never
    match: [{uri: {prefix: /never}}]
    route: [{destination: {host: reviews, subset: v3}}]
"""


def ordered_world(tmp_path: Path) -> Path:
    """bookinfo-healthy with a reviews VirtualService of four named rules: the second is for ratings'
    proxies only (sourceLabels), the third a catch-all, the fourth after it (never generated)."""
    world = tmp_path / "world"
    world.mkdir()
    for f in WORLD.iterdir():
        text = f.read_text()
        if f.name == "50-networking.yaml":
            old = ("  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 50\n"
                   "    - destination: {host: reviews, subset: v3}\n      weight: 50\n")
            assert old in text
            text = text.replace(old, ORDERED_REVIEWS)
        (world / f.name).write_text(text)
    return world


def named_routes(*names: str) -> Any:
    """The productpage dump with reviews' virtual host holding routes of these names, in this order, each
    from bookinfo/reviews (a copy of the healthy route, renamed)."""
    def change(doc: dict[str, Any]) -> None:
        routes = reviews_routes(doc)
        template = routes[0]
        routes[:] = [copy.deepcopy(template) | {"name": n} for n in names]
    return change


def ordered_host(world: Path, dump: Path) -> dict[str, Any]:
    result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(world), "--config-dump", str(dump))
    assert "Traceback" not in result.stderr, result.stderr
    return result.json()


def test_routes_in_the_predicted_order_and_names_pass(tmp_path):
    """productpage is not labelled app=ratings, so Istio drops the canary entry for it; the catch-all
    `rest` ends the routes (`never` is never generated)."""
    doc = ordered_host(ordered_world(tmp_path), dump_with(tmp_path, named_routes("jason.by-user", "rest")))
    assert statuses(doc)["MD802"] == "passed" and not found(doc, "MD802")


@pytest.mark.parametrize("held, where", [
    (("jason.by-user", "canary", "rest"), "route 2 is route `canary` on the proxy, VirtualService bookinfo/reviews "
                                          "rule #3 match (none) (route `rest`) in the model"),
    (("rest", "jason.by-user"), "route 1 is route `rest` on the proxy, VirtualService bookinfo/reviews rule #1 "
                                "match #1 (route `jason.by-user`) in the model"),
    (("jason.by-user", "rest", "never"), "the proxy holds 1 route(s) after VirtualService bookinfo/reviews rule #3 "
                                         "match (none), the catch-all where the model stops"),
    (("jason.by-user",), "the proxy lacks VirtualService bookinfo/reviews rule #3 match (none) and what follows it"),
])
def test_routes_in_another_order_or_past_the_catch_all_are_md802(tmp_path, held, where):
    doc = ordered_host(ordered_world(tmp_path), dump_with(tmp_path, named_routes(*held)))
    [finding] = found(doc, "MD802")
    assert where in finding["message"]
    assert finding["evidence"]["actual"] == list(held)
    assert [p["name"] for p in finding["evidence"]["predicted"]] == ["jason.by-user", "rest"]


def test_a_proxy_labelled_for_the_source_match_is_predicted_its_route(tmp_path):
    """The same VirtualService seen from a ratings proxy (app=ratings): its dump must hold the canary route."""
    world = ordered_world(tmp_path)
    pod = "bookinfo/ratings-v1-85cc46b6d4-7m8bx"
    path = dump_with(tmp_path, named_routes("jason.by-user", "canary", "rest"))
    doc = ordered_host(world, Path(f"{pod}={path}"))
    assert statuses(doc)["MD802"] == "passed"
    path = dump_with(tmp_path, named_routes("jason.by-user", "rest"))
    [finding] = found(ordered_host(world, Path(f"{pod}={path}")), "MD802")
    assert ("route 2 is route `rest` on the proxy, VirtualService bookinfo/reviews rule #2 match #1 (route `canary`) "
            "in the model") in finding["message"]


def test_a_route_order_that_depends_on_an_unread_pod_is_skipped_never_passed(tmp_path):
    """The dump names a pod the files do not hold, and the VirtualService picks routes by sourceLabels:
    which routes that proxy gets cannot be known, so MD802 says so instead of passing."""
    path = dump_with(tmp_path, named_routes("jason.by-user", "rest"))
    doc = ordered_host(ordered_world(tmp_path), Path(f"bookinfo/unknown-pod-1={path}"))
    md802 = next(c for c in doc["checks"] if c["code"] == "MD802")
    assert md802["status"] == "skipped"
    assert md802["reason"] == ("the route order of bookinfo/unknown-pod-1 for reviews.bookinfo.svc.cluster.local:9080 "
                               "could not be judged: VirtualService bookinfo/reviews selects routes by sourceLabels "
                               "and the pod was not read")


def test_routes_generated_from_an_httproute_name_the_httproute(tmp_path):
    """Istio's route metadata for a Gateway API route names its generated VirtualService
    (NAME~N~istio-autogenerated-k8s-gateway): the finding says which HTTPRoute, not a VirtualService."""
    generated = routed_by(reviews_routes, "reviews~0~istio-autogenerated-k8s-gateway")
    [finding] = found(host("--config-dump", str(dump_with(tmp_path, generated))), "MD802")
    assert "by Gateway API route bookinfo/reviews; the model predicts VirtualService bookinfo/reviews" in \
        finding["message"]


# ------------------------------------------------------------------------------- gateways

GATEWAY = SCENARIOS / "configdumps" / "ingressgateway-healthy.json"
GATEWAY_POD = "istio-system/istio-ingressgateway-6c8f9b6d7-x2x9q"
PRODUCTPAGE = "productpage.bookinfo.svc.cluster.local"


def gateway_dump_with(tmp_path: Path, change: Any) -> Path:
    return dump_with(tmp_path, change, GATEWAY)


def gateway_routes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    routes = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))
    return routes["dynamic_route_configs"][0]["route_config"]["virtual_hosts"][0]["routes"]


def productpage(*extra: str) -> dict[str, Any]:
    return host(*extra, name="productpage")


def test_a_gateway_proxy_that_agrees_confirms_its_routes_and_clusters():
    """The ingress gateway of bookinfo-gateway: VirtualService bookinfo/bookinfo sends three prefixes to
    productpage; the gateway holds those routes and productpage's clusters (port 9080, subset v1)."""
    doc = productpage("--config-dump", str(GATEWAY))
    assert statuses(doc)["MD801"] == "passed" and statuses(doc)["MD802"] == "passed"
    assert not [f for f in doc["findings"] if f["code"].startswith("MD80")]


def test_a_gateway_routing_by_another_virtualservice_is_md802_for_the_gateway(tmp_path):
    other = routed_by(gateway_routes, "bookinfo-canary")
    [finding] = found(productpage("--config-dump", str(gateway_dump_with(tmp_path, other))), "MD802")
    assert finding["message"].startswith(f"The gateway proxy {GATEWAY_POD} routes to {PRODUCTPAGE} by "
                                         "VirtualService bookinfo/bookinfo-canary; the model predicts VirtualService "
                                         "bookinfo/bookinfo.")
    assert finding["evidence"]["role"] == "gateway" and len(finding["evidence"]["routes"]) == 3


def test_a_gateway_with_no_route_to_the_host_is_md802(tmp_path):
    [finding] = found(productpage("--config-dump", str(gateway_dump_with(
        tmp_path, lambda d: gateway_routes(d).clear()))), "MD802")
    assert "by no route at all; the model predicts VirtualService bookinfo/bookinfo" in finding["message"]


def test_a_cluster_the_gateways_own_route_names_but_it_lacks_is_md801(tmp_path):
    """Model-free: the gateway's route sends to outbound|9080||productpage, which it does not hold."""
    def drop(doc: dict[str, Any]) -> None:
        found_ = next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))
        found_["dynamic_active_clusters"] = [c for c in found_["dynamic_active_clusters"]
                                             if c["cluster"]["name"] != f"outbound|9080||{PRODUCTPAGE}"]
    [finding] = found(productpage("--config-dump", str(gateway_dump_with(tmp_path, drop))), "MD801")
    assert finding["evidence"]["missing"] == [f"outbound|9080||{PRODUCTPAGE}"]
    assert finding["evidence"]["role"] == "gateway" and finding.get("clientNamespace") is None
    assert "its route prefix /productpage of virtual host bookinfo.example.com:80 sends there" in finding["message"]


def test_probe_reads_the_gateway_proxy_that_routes_to_the_host(live, tmp_path):
    """host productpage: --probe reads the ingress gateway's configuration too (one ready proxy per gateway
    deployment); it still routes by an older VirtualService while istiod now generates bookinfo/bookinfo."""
    generated = json.loads(GATEWAY.read_text())
    held = copy.deepcopy(generated)
    routed_by(gateway_routes, "bookinfo-v0")(held)
    result, cluster = probe_run(live, held, generated, [], pod=GATEWAY_POD, name="productpage")
    [finding] = found(result.json(), "MD802")
    assert finding["evidence"]["proxy"] == GATEWAY_POD and finding["evidence"]["role"] == "gateway"
    assert "Cause: stale configuration" in finding["message"]
    forwards = [(r.path.split("/")[-2], r.query.get("ports")) for r in cluster.cluster.requests
                if r.path.endswith("/portforward")]
    assert (GATEWAY_POD.split("/")[1], "15000") in forwards


def test_a_healthy_world_probed_live_is_confirmed_by_every_comparison(live):
    """Every proxy --probe picks holds what istiod generates and what the model predicts, all in sync: the
    five comparisons pass, the client's and the host's proxies are named as confirming, no MD80x."""
    reviews_v1 = "reviews-v1-7f6558b974-k2qhj"
    client, own = json.loads(HEALTHY.read_text()), _inbound(["tls"])
    istiod = stub({f"{DETAILS}.bookinfo": client, f"{reviews_v1}.bookinfo": own},
                  [syncz_of(f"{DETAILS}.bookinfo"), syncz_of(f"{reviews_v1}.bookinfo")])
    envoys = [stub({"admin": client}), stub({"admin": own})]
    cluster = live([*objects_of([WORLD]), ISTIOD_POD], forwards={
        ("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod.server_address[:2],
        ("bookinfo", DETAILS, 15000): envoys[0].server_address[:2],
        ("bookinfo", reviews_v1, 15000): envoys[1].server_address[:2]})
    try:
        result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--probe", "--no-logs")
    finally:
        for server in (istiod, *envoys):
            server.shutdown()
    doc = result.json()
    assert statuses(doc) == dict.fromkeys(("MD801", "MD802", "MD803", "MD804", "MD805"), "passed")
    assert not [f for f in doc["findings"] if f["code"].startswith("MD80")]
    confirmed = [n for n in doc["notes"] if n.startswith("confirmed by the proxy configuration of")]
    assert [n.split(" (")[0].rsplit(" ", 1)[1] for n in confirmed] == [f"bookinfo/{DETAILS}", f"bookinfo/{reviews_v1}"]


def test_silent_proxies_cost_the_probe_its_budget_and_no_more(live):
    """Envoy admins and an istiod that accept and never answer: the reads share one budget (here 1.5 s,
    30 s in a run), the proxies after it are not asked, and each is named with why; nothing is compared."""
    from kubernetes import config

    from kubectl_meshdoctor.cluster.resources import State
    from kubectl_meshdoctor.mesh.settings import MeshSettings
    from kubectl_meshdoctor.probes.active import probe_config_dumps

    pods = {p["metadata"]["name"]: p for p in objects_of([WORLD]) if p["kind"] == "Pod"}
    chosen = [pods[DETAILS], pods["reviews-v1-7f6558b974-k2qhj"]]
    with silent_server() as silent:
        cluster = live([*objects_of([WORLD]), ISTIOD_POD], forwards={
            ("istio-system", ISTIOD_POD["metadata"]["name"], 15014): silent,
            **{("bookinfo", o["metadata"]["name"], 15000): silent for o in chosen}})
        client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        started = time.monotonic()
        configs, notes, status = probe_config_dumps(client, [ISTIOD_POD], MeshSettings(None, True, "istio-system"),
                                                    chosen, budget=1.5)
        took = time.monotonic() - started
    assert configs == [] and status.state == State.ERROR
    assert took < 1.5 + 2 * 2.0 + 1.0  # the budget, plus at most the connect deadlines of what it started
    assert notes[0].startswith(f"the configuration of proxy {DETAILS}.bookinfo could not be read: Envoy admin: ")
    assert "no answer within" in notes[0]  # the Envoy admin was given what was left of the budget
    assert "; istiod: not asked: the 1.5s --probe gives the proxies' configuration were spent" in notes[0]
    assert notes[1] == ("the configuration of proxy reviews-v1-7f6558b974-k2qhj.bookinfo was not asked: the 1.5s "
                        "--probe gives the proxies' configuration were spent on the proxies before")
