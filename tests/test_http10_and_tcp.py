"""HTTP/1.0 (MD601-MD603) and long-lived TCP (MD701-MD703): each fires on its broken world and stays
silent on the correct one. Static checks run from files and from the fake API server; the log checks
read istio-proxy logs through the pods/log subresource of the fake server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE, SCENARIOS, found, objects_of, offline, run_cli, run_world
from tests.fakeapi.server import KINDS, Access

HTTP10 = SCENARIOS / "http10"
TCP = SCENARIOS / "tcp"
LOGS = SCENARIOS / "logs"
MODES = ("offline",)  # live: tests/test_parity_fake.py proves every world the same served by the API


def world(*names: str) -> list[Path]:
    return [BASE, HTTP10 / "reviews.yaml", *(HTTP10 / f"{n}.yaml" for n in names)]


def tcp_world(ground: str, *names: str) -> list[Path]:
    return [TCP / f"{ground}.yaml", *(TCP / f"{n}.yaml" for n in names)]


def has(evidence: dict, expected: dict) -> bool:
    return {k: evidence.get(k) for k in expected} == expected


def status(doc: dict, code: str) -> dict:
    return next(c for c in doc["checks"] if c["code"] == code)


def host(mode: str, live, files: list[Path], name: str = "reviews", namespace: str = "bookinfo", *extra: str):
    result = run_world(mode, live, files, "host", name, "-n", namespace, "-o", "json", *extra)
    assert "Traceback" not in result.stderr, result.stderr
    return result


# ------------------------------------------------------------------------------------- MD602 NGINX

@pytest.mark.parametrize("mode", MODES)
def test_nginx_without_proxy_http_version_is_named_with_file_line_and_pod(mode, live):
    result = host(mode, live, world("nginx-default-version"))
    [finding] = found(result.json(), "MD602")
    assert has(finding["evidence"], {"configMap": "bookinfo/frontend-nginx", "key": "default.conf", "line": 6,
                                        "location": "/", "proxyPass": "http://reviews:9080/", "httpVersion": "1.0",
                                        "versionSetAt": "default", "pods": ["frontend-6b7c9-f1"]})
    assert finding["evidence"]["rejectedBy"] == "the NGINX pods' own sidecars (outbound)"
    assert "proxy_http_version 1.1;" in finding["remediation"][0]
    assert ("Pod", "frontend-6b7c9-f1") in {(r["kind"], r["name"]) for r in finding["resources"]}
    assert result.exit_code == 0  # a warning
    assert run_world(mode, live, world("nginx-default-version"), "host", "reviews", "-n", "bookinfo",
                     "--fail-on", "warning").exit_code == 1


@pytest.mark.parametrize("mode", MODES)
def test_http_block_version_reaches_the_included_location(mode, live):
    doc = host(mode, live, world("nginx-http-block")).json()
    assert found(doc, "MD602") == []
    assert status(doc, "MD602")["status"] == "passed"


@pytest.mark.parametrize("mode", ("offline", "live"))  # live: ConfigMaps are looked for in client namespaces
def test_location_override_through_an_upstream_block_is_found_and_the_server_side_rejects(mode, live):
    # live, ConfigMaps are read in the client namespaces: `edge` routes nothing, so it is named
    extra = () if mode == "offline" else ("--client-namespace", "edge")
    doc = host(mode, live, world("nginx-upstream-override"), "reviews", "bookinfo", *extra).json()
    [finding] = found(doc, "MD602")
    assert finding["evidence"]["location"] == "/legacy/"  # /api/ inherits 1.1 from the http block
    assert finding["evidence"]["upstreams"] == ["reviews.bookinfo.svc.cluster.local:9080", "10.96.0.20:9080"]
    assert finding["evidence"]["versionSetAt"] == "nginx.conf line 10"
    assert finding["evidence"]["rejectedBy"] == "the sidecars of reviews.bookinfo.svc.cluster.local (inbound)"
    if mode == "live":
        assert "NGINX configs were looked for in: edge " in " ".join(doc["notes"])


def test_nginx_config_is_not_blamed_when_the_receiving_proxy_accepts_http10(live):
    objects = objects_of(world("nginx-default-version"))
    frontend = next(o for o in objects if o["metadata"]["name"] == "frontend-6b7c9-f1")
    frontend["spec"]["containers"][1]["env"] = [{"name": "ISTIO_META_HTTP10", "value": "1"}]
    doc = live(objects).run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    assert status(doc, "MD602")["status"] == "passed"


# ------------------------------------------------------------------------------------- MD603 switch

@pytest.mark.parametrize("mode", MODES)
def test_wrong_http10_key_is_flagged_on_annotation_and_env(mode, live):
    doc = host(mode, live, world("switch-wrong-key")).json()
    [finding] = found(doc, "MD603")
    keys = {(p["where"].split(" of ")[0].split(" ")[0], p["key"]) for p in finding["evidence"]["problems"]}
    assert keys == {("annotation", "HTTP10"), ("istio-proxy", "HTTP10")}
    assert "ISTIO_META_HTTP10" in " ".join(finding["remediation"])
    proxies = {p["pod"]: p["acceptsHttp10"] for p in doc["http10"]}
    assert proxies == {"reviews-v1-abc12-x1": False, "reviews-v2-def34-x2": False}


@pytest.mark.parametrize("mode", MODES)
def test_istio_meta_http10_one_is_correct_and_reported_per_proxy(mode, live):
    doc = host(mode, live, world("switch-correct")).json()
    assert status(doc, "MD603")["status"] == "passed"
    assert {p["pod"]: p["acceptsHttp10"] for p in doc["http10"]} == {
        "reviews-v1-abc12-x1": True, "reviews-v2-def34-x2": False}


@pytest.mark.parametrize("mode", MODES)
def test_values_other_than_one_and_settings_not_yet_injected_are_flagged(mode, live):
    [value] = found(host(mode, live, world("switch-value-true")).json(), "MD603")
    assert [(p["key"], p["value"]) for p in value["evidence"]["problems"]] == [
        ("ISTIO_META_HTTP10", "true"), ("ISTIO_META_HTTP10", "true")]  # annotation and env
    [stale] = found(host(mode, live, world("switch-not-reinjected")).json(), "MD603")
    assert "created before the setting" in stale["message"]
    assert any("restart the workload" in step for step in stale["remediation"])


@pytest.mark.parametrize("mode", MODES)
def test_mesh_wide_wrong_key_and_a_bad_pilot_value_are_flagged(mode, live, tmp_path):
    objects = objects_of(world())
    mesh = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio")
    mesh["data"]["mesh"] += "defaultConfig:\n  proxyMetadata:\n    HTTP10: \"1\"\n"
    istiod = next(o for o in objects if o["kind"] == "Deployment")
    istiod["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "PILOT_HTTP10", "value": "yes"}]
    if mode == "offline":
        path = tmp_path / "world.yaml"
        path.write_text(yaml.safe_dump_all(objects))
        result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(path))
    else:
        result = live(objects).run("host", "reviews", "-n", "bookinfo", "-o", "json")
    [finding] = found(result.json(), "MD603")
    wheres = {p["where"]: p["key"] for p in finding["evidence"]["problems"]}
    assert wheres == {"istiod Deployment istio-system/istiod": "PILOT_HTTP10",
                      "mesh config defaultConfig.proxyMetadata": "HTTP10"}
    assert {(r["kind"], r["name"]) for r in finding["resources"]} == {("Deployment", "istiod"),
                                                                        ("ConfigMap", "istio")}


def test_switches_an_old_istio_does_not_read_are_flagged(live):
    objects = objects_of(world("switch-not-reinjected"))
    istiod = next(o for o in objects if o["kind"] == "Deployment")
    istiod["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/istio/pilot:1.6.8"
    [finding] = found(live(objects).run("host", "reviews", "-n", "bookinfo", "-o", "json").json(), "MD603")
    [problem] = finding["evidence"]["problems"]  # not "restart the pods": a restart would not help on 1.6
    assert problem["problem"] == "Istio 1.6.8 does not read it here (from 1.7)"
    assert any("ISTIO_META_HTTP10=\"1\" on the istio-proxy container" in step for step in finding["remediation"])


def test_a_pilot_switch_from_a_secret_or_configmap_is_not_judged(live):
    objects = objects_of(world())
    istiod = next(o for o in objects if o["kind"] == "Deployment")
    istiod["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "PILOT_HTTP10", "valueFrom": {"configMapKeyRef": {"name": "pilot-flags", "key": "http10"}}}]
    doc = live(objects).run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    assert status(doc, "MD603")["status"] == "passed"  # its value is not in the spec: nothing to say about it


# ------------------------------------------------------------------------------ MD601 logs (live)

def with_logs(live, files: list[Path], logs: dict[tuple[str, str], str], **kw):
    return live(objects_of(files), logs={(ns, pod, "istio-proxy"): (LOGS / name).read_text()
                                         for (ns, pod), name in logs.items()}, **kw)


def test_inbound_426_in_the_hosts_sidecar_log_is_counted_within_the_window(live):
    # the log also holds a 426 the application itself answered (no DPE): not an HTTP/1.0 rejection
    cluster = with_logs(live, world(), {("bookinfo", "reviews-v1-abc12-x1"): "reviews-inbound-426.log"})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    [finding] = found(result.json(), "MD601")
    assert has(finding["evidence"], {"pods": ["bookinfo/reviews-v1-abc12-x1"], "direction": "inbound", "count": 2,
                                        "first": "2026-11-27T01:10:12.480Z", "last": "2026-11-27T01:10:14.902Z"})
    assert "426 DPE low_version" in finding["evidence"]["sample"]
    assert "inbound, at the host's own sidecar" in finding["message"]
    assert result.exit_code == 1
    logs = [r for r in cluster.cluster.requests if r.path.endswith("/log")]
    assert {r.query["container"] for r in logs} == {"istio-proxy"}
    assert {r.query["sinceSeconds"] for r in logs} == {"900"} and {r.query["limitBytes"] for r in logs} == {"524288"}
    wider = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--since", "3h").json()
    assert found(wider, "MD601")[0]["evidence"]["count"] == 3  # the 2-hour-old line too


def test_client_426_is_attributed_only_when_it_was_sent_to_this_host(live):
    cluster = with_logs(live, world(), {("bookinfo", "productpage-v1-123ab-p1"): "productpage-outbound-426.log"})
    [finding] = found(cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json(), "MD601")
    assert finding["evidence"]["direction"] == "outbound" and finding["evidence"]["count"] == 1  # not 10.96.7.7
    assert "outbound, at the client's sidecar" in finding["message"]


def test_clean_logs_pass_and_no_logs_reads_none(live):
    cluster = with_logs(live, world(), {("bookinfo", "reviews-v1-abc12-x1"): "reviews-clean.log"})
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    assert status(doc, "MD601")["status"] == "passed"
    before = len(cluster.cluster.requests)
    quiet = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--no-logs")
    assert status(quiet.json(), "MD601")["status"] == "not-run" and quiet.exit_code == 0
    assert not [r for r in cluster.cluster.requests[before:] if r.path.endswith("/log")]


def test_forbidden_logs_skip_the_log_checks_with_the_api_reason(live):
    everything_but_logs = Access("oncall", frozenset((k.plural, None) for k in KINDS))
    cluster = with_logs(live, world(), {("bookinfo", "reviews-v1-abc12-x1"): "reviews-inbound-426.log"},
                        tokens={"oncall": everything_but_logs})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", token="oncall")
    md601 = status(result.json(), "MD601")
    assert md601["status"] == "skipped"
    assert md601["reason"].startswith("forbidden: get pods/log in bookinfo")
    assert 'cannot get resource "pods/log"' in md601["reason"]
    assert result.exit_code == 4


def test_bad_since_is_a_usage_error():
    result = run_cli("host", "reviews", "-n", "bookinfo", "--since", "yesterday", *offline(*world()))
    assert result.exit_code == 2 and "--since must be a duration" in result.stderr


# ------------------------------------------------------------------------------------------ MD701

@pytest.mark.parametrize("mode", MODES)
def test_file_mounted_citadel_certs_on_a_tcp_service_give_the_restart_period(mode, live):
    doc = host(mode, live, tcp_world("ground-1.4", "mongodb-file-certs"), "mongodb", "db").json()
    [finding] = found(doc, "MD701")
    assert has(finding["evidence"], {"pods": ["mongodb-0"], "rotationDays": 15.0, "ttlHours": 720.0,
                                        "graceRatio": 0.5, "source": "istio-system/istio-citadel args"})
    assert finding["evidence"]["ports"][0]["port"] == 27017
    steps = " ".join(finding["remediation"])
    assert "Istio 1.5" in steps and "scale istio-citadel to 0" in steps and "no workload identity" in steps


@pytest.mark.parametrize("mode", MODES)
def test_sds_certificates_do_not_restart_envoy(mode, live):
    doc = host(mode, live, tcp_world("ground-current", "mongodb-sds"), "mongodb", "db").json()
    assert status(doc, "MD701")["status"] == "passed"


def test_http_only_host_with_file_certs_is_not_flagged(live):
    objects = objects_of(tcp_world("ground-1.4", "mongodb-file-certs"))
    svc = next(o for o in objects if o["kind"] == "Service")
    svc["spec"]["ports"] = [{"name": "http", "port": 8080, "targetPort": 8080}]
    doc = live(objects).run("host", "mongodb", "-n", "db", "-o", "json").json()
    assert status(doc, "MD701")["status"] == "passed"


# ------------------------------------------------------------------------------------------ MD702

def test_oom_killed_sidecar_restarts_are_reported_with_the_reason(live):
    cluster = live(objects_of(tcp_world("ground-current", "mongodb-sidecar-oom")))
    [finding] = found(cluster.run("host", "mongodb", "-n", "db", "-o", "json").json(), "MD702")
    assert finding["evidence"]["pods"]["db/mongodb-0"] == {"restarts": 3, "reason": "OOMKilled", "exitCode": 137,
                                                          "finishedAt": "2026-11-27T00:41:07Z"}
    assert any("proxyMemoryLimit" in step for step in finding["remediation"])


def test_hot_restart_epochs_in_the_proxy_log_are_reported(live):
    cluster = with_logs(live, tcp_world("ground-1.4", "mongodb-file-certs"),
                        {("db", "mongodb-0"): "mongodb-hot-restart-1.4.log"})
    [finding] = found(cluster.run("host", "mongodb", "-n", "db", "-o", "json").json(), "MD702")
    assert finding["evidence"]["pods"]["db/mongodb-0"]["hotRestartEpoch"] == 1
    assert "creating new Envoy epoch 1" in finding["evidence"]["pods"]["db/mongodb-0"]["epochLine"]


def test_stable_sidecars_pass(live):
    doc = live(objects_of(tcp_world("ground-current", "mongodb-sds"))).run(
        "host", "mongodb", "-n", "db", "-o", "json").json()
    assert status(doc, "MD702")["status"] == "passed"


# ------------------------------------------------------------------------------------------ MD703

@pytest.mark.parametrize("mode", MODES)
def test_tcp_port_without_idle_timeout_is_an_info_with_where_to_change_it(mode, live):
    result = host(mode, live, tcp_world("ground-current", "mongodb-sds"), "mongodb", "db")
    [finding] = found(result.json(), "MD703")
    assert finding["severity"] == "info" and finding["port"] == 27017
    assert finding["evidence"]["idleTimeout"] == "1h"
    assert "connectionPool.tcp.idleTimeout" in finding["remediation"][0]
    assert result.exit_code == 0


@pytest.mark.parametrize("mode", MODES)
def test_idle_timeout_set_in_the_destination_rule_passes(mode, live):
    doc = host(mode, live, tcp_world("ground-current", "mongodb-sds", "idle-timeout-set"), "mongodb", "db").json()
    assert status(doc, "MD703")["status"] == "passed"


@pytest.mark.parametrize("mode", MODES)
def test_idle_timeout_in_a_destination_rule_is_ignored_before_1_21(mode, live):
    doc = host(mode, live, tcp_world("ground-1.4", "mongodb-file-certs", "idle-timeout-set"), "mongodb", "db").json()
    [finding] = found(doc, "MD703")
    assert "ignores it (honoured from 1.21)" in finding["message"]
    assert finding["resources"][0]["kind"] == "DestinationRule"


@pytest.mark.parametrize("mode", MODES)
def test_http_hosts_are_silent_for_the_tcp_checks(mode, live):
    doc = host(mode, live, world()).json()
    for code in ("MD701", "MD703"):
        assert status(doc, code)["status"] == "passed"
