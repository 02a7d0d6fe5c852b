"""Predicted vs actual (issue 23, first part): a saved config_dump compared with the model, offline and
live; each broken dump is the healthy one with one change, made here."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, SCENARIOS, found, objects_of, offline, run_cli

WORLD = EXAMPLES / "bookinfo-healthy"
HEALTHY = SCENARIOS / "configdumps" / "productpage-healthy.json"
POD = "bookinfo/productpage-v1-6b746f74dc-9stvs"
REVIEWS = "reviews.bookinfo.svc.cluster.local"


def dump_with(tmp_path: Path, change: Any) -> Path:
    doc = json.loads(HEALTHY.read_text())
    change(doc)
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(doc))
    return path


def clusters(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))["dynamic_active_clusters"]


def reviews_routes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    routes = next(c for c in doc["configs"] if c["@type"].endswith("RoutesConfigDump"))
    vhost = next(v for v in routes["dynamic_route_configs"][0]["route_config"]["virtual_hosts"]
                 if v["name"] == f"{REVIEWS}:9080")
    return vhost["routes"]


def host(*extra: str) -> dict[str, Any]:
    result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(WORLD), *extra)
    assert "Traceback" not in result.stderr, result.stderr
    return result.json() | {"exitCode": result.exit_code}


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {c["code"]: c["status"] for c in doc["checks"] if c["code"].startswith("MD80")}


def test_a_dump_that_agrees_confirms_the_model_and_names_the_proxy():
    doc = host("--config-dump", str(HEALTHY))
    assert statuses(doc) == {"MD801": "passed", "MD802": "passed", "MD803": "passed", "MD805": "passed"}
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
    def other(doc: dict[str, Any]) -> None:
        for r in reviews_routes(doc):
            r["metadata"]["filter_metadata"]["istio"]["config"] = \
                "/apis/networking.istio.io/v1/namespaces/bookinfo/virtual-service/reviews-canary"
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
