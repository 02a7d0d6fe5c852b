"""Ambient mode (issue 20): data-plane mode per pod, no sidecar false alarms, HBONE in the TLS model,
and MD550-MD552 on broken and correct worlds (tests/scenarios/ambient; live: tests/test_parity_fake.py
and the real API server's parity suite serve every one of them).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES, SCENARIOS, found, offline, run_cli

GROUND = SCENARIOS / "ambient" / "ground.yaml"


def host(scenario: str, name: str = "reviews", namespace: str = "bookinfo", *extra: str) -> dict[str, Any]:
    result = run_cli("host", name, "-n", namespace, "-o", "json", *extra,
                     *offline(GROUND, SCENARIOS / "ambient" / f"{scenario}.yaml"))
    assert "Traceback" not in result.stderr, result.stderr
    return result.json() | {"exitCode": result.exit_code}


def status(doc: dict[str, Any], code: str) -> tuple[str, str]:
    check = next(c for c in doc["checks"] if c["code"] == code)
    return check["status"], check.get("reason", "")


def test_enrolled_in_a_ready_waypoint_is_silent_and_ambient_pods_are_not_sidecar_failures():
    doc = host("waypoint-l7")
    assert doc["findings"] == [] and doc["exitCode"] == 0
    assert [status(doc, c)[0] for c in ("MD550", "MD551", "MD552")] == ["passed", "passed", "passed"]
    for code in ("MD502", "MD504", "MD505", "MD701", "MD703"):
        state, reason = status(doc, code)
        assert state == "not-run" and reason.startswith("not applicable: ambient"), (code, reason)
    pods = doc["workloads"]["pods"]
    assert {p["dataplane"] for p in pods} == {"ambient"}
    assert all("ambient.istio.io/redirection: enabled" in p["dataplaneReason"] for p in pods)


def test_l7_rules_without_a_waypoint_are_named_with_what_ambient_clients_lose():
    doc = host("l7-without-waypoint")
    [finding] = found(doc, "MD550")
    assert finding["severity"] == "warning"
    rules = {(r["kind"], r["name"]): r["layer7"] for r in finding["evidence"]["rules"]}
    assert rules[("VirtualService", "reviews")] == ("http rule #1: match, subsets; "
                                                    "http rule #2: retries, weighted split, subsets")
    assert rules[("DestinationRule", "reviews")] == "trafficPolicy (connectionPool)"
    assert "only clients with a sidecar, and gateways, still apply them" in finding["message"]
    assert any("istioctl waypoint apply -n bookinfo --enroll-namespace" in s for s in finding["remediation"])
    assert doc["exitCode"] == 0  # a warning


def test_a_lone_route_to_the_host_and_tls_only_policies_lose_nothing_without_a_waypoint(tmp_path):
    world = tmp_path / "noop.yaml"
    world.write_text("""
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec: {host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}, subsets: [{name: v1, labels: {version: v1}}]}
""")
    result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(GROUND, world))
    assert found(result.json(), "MD550") == []
    assert status(result.json(), "MD550")[0] == "passed"


def test_a_waypoint_that_does_not_exist_is_an_error_saying_what_is_skipped():
    doc = host("waypoint-missing")
    [finding] = found(doc, "MD551")
    assert finding["severity"] == "error" and doc["exitCode"] == 1
    assert finding["evidence"]["waypoint"] == "bookinfo/reviews-wp"
    assert finding["evidence"]["problem"] == "Gateway bookinfo/reviews-wp does not exist"
    assert "label istio.io/use-waypoint=reviews-wp on Service bookinfo/reviews" in finding["message"]
    assert "ztunnel sends the traffic straight to the pods" in finding["message"]
    assert any("istioctl waypoint apply -n bookinfo --name reviews-wp" in s for s in finding["remediation"])
    assert found(doc, "MD550") == []  # the waypoint's absence is said once, by MD551


def _waypoint_world(tmp_path: Path, change: Any) -> list[Path]:
    docs = list(yaml.safe_load_all((SCENARIOS / "ambient" / "waypoint-l7.yaml").read_text()))
    change(docs)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return [GROUND, path]


def _gateway(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Gateway")


def _drop_status_addresses(docs: list[dict[str, Any]]) -> None:
    _gateway(docs)["status"] = {"conditions": [{"type": "Programmed", "status": "False", "reason": "NoResources"}]}


def _workload_only(docs: list[dict[str, Any]]) -> None:
    _gateway(docs)["metadata"]["labels"]["istio.io/waypoint-for"] = "workload"


def _ingress_class(docs: list[dict[str, Any]]) -> None:
    _gateway(docs)["spec"]["gatewayClassName"] = "istio"


def _pods_gone(docs: list[dict[str, Any]]) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == "Pod" and d["metadata"]["name"].startswith("waypoint-"))]


@pytest.mark.parametrize(("change", "problem", "breaks"), [
    (_drop_status_addresses, "waypoint bookinfo/waypoint is not ready: its status has no address",
     "sends the traffic straight to the pods"),
    (_workload_only, "waypoint bookinfo/waypoint is for workload traffic (istio.io/waypoint-for), not service",
     "sends the traffic straight to the pods"),
    (_ingress_class, "Gateway bookinfo/waypoint is of class istio, not istio-waypoint", "connections fail"),
    (_pods_gone, "waypoint bookinfo/waypoint has no ready pod", "which has no ready pod to take it"),
], ids=["no-address", "workload-only", "not-a-waypoint-class", "no-ready-pod"])
def test_each_way_a_named_waypoint_fails_to_serve(tmp_path, change, problem, breaks):
    result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(*_waypoint_world(tmp_path, change)))
    [finding] = found(result.json(), "MD551")
    assert finding["evidence"]["problem"].startswith(problem), finding["evidence"]["problem"]
    assert breaks in finding["message"]


def test_a_waypoint_with_neither_status_nor_pods_in_the_files_is_not_called_ready(tmp_path):
    def unknown(docs: list[dict[str, Any]]) -> None:
        _pods_gone(docs)
        del _gateway(docs)["status"]
    files = _waypoint_world(tmp_path, unknown)
    # no pod in the files at all: the waypoint's pods cannot be looked for
    ground_without_pods = tmp_path / "ground.yaml"
    ground_without_pods.write_text(yaml.safe_dump_all([d for d in yaml.safe_load_all(GROUND.read_text())
                                                       if d["kind"] != "Pod"]))
    result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(ground_without_pods, files[1]))
    state, reason = status(result.json(), "MD551")
    assert state == "skipped" and "whether waypoint bookinfo/waypoint is ready is unknown" in reason


def test_a_pod_ambient_never_captured_is_named_with_its_node_and_not_called_sidecarless():
    doc = host("not-captured")
    [finding] = found(doc, "MD552")
    assert finding["evidence"]["podsNotCaptured"] == {
        "reviews-v3-cc56b578-5xbwm": "namespace bookinfo labelled istio.io/dataplane-mode=ambient, but the pod has "
                                     "no ambient.istio.io/redirection annotation: istio-cni has not captured it; "
                                     "no ready ztunnel on its node node-c"}
    assert "1 of 3 pods" in finding["message"]
    assert any("kubectl rollout restart deployment/reviews-v3-cc56b578" not in s and
               "kubectl rollout restart deployment/reviews-v3" in s for s in finding["remediation"])
    assert status(doc, "MD502")[0] == "not-run"  # every pod asks for ambient: MD552's to say


def test_sidecars_and_ztunnel_talk_hbone_under_strict_in_both_directions():
    reviews = host("mixed-strict")
    assert reviews["findings"] == []
    assert {e["sent"] for row in reviews["tls"] for e in row["endpoints"]} == {"HBONE"}
    assert {row["server"] for row in reviews["tls"]} == {"STRICT"}
    cart = host("mixed-strict", "cart", "shop")
    assert cart["findings"] == []
    from_bookinfo = [row for row in cart["tls"] if row["clientNamespace"] == "bookinfo"]
    assert from_bookinfo and all(e["sent"] == "HBONE" and e["verdict"] == "OK"
                                 for row in from_bookinfo for e in row["endpoints"])


def test_the_waypoint_service_is_left_out_of_a_scan_like_istiod():
    result = run_cli("scan", "-A", "-o", "json", *offline(GROUND, SCENARIOS / "ambient" / "waypoint-l7.yaml"))
    doc = result.json()
    assert [r["target"]["host"] for r in doc["reports"]] == ["reviews.bookinfo.svc.cluster.local"]
    assert "waypoint.bookinfo.svc.cluster.local" in doc["systemHostsLeftOut"]


# ------------------------------------------------------------------ the healthy bookinfo, turned ambient

def _turned_ambient(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What moving bookinfo to ambient does to the objects: the namespace labelled for ambient instead of
    injection, the pods recreated without sidecars and captured by istio-cni (its annotation)."""
    out = []
    for doc in map(copy.deepcopy, docs):
        meta = doc.setdefault("metadata", {})
        if doc["kind"] == "Namespace" and meta.get("name") == "bookinfo":
            labels = meta.setdefault("labels", {})
            labels.pop("istio-injection", None)
            labels["istio.io/dataplane-mode"] = "ambient"
        if doc["kind"] == "Pod" and meta.get("namespace") == "bookinfo":
            meta.setdefault("annotations", {}).pop("sidecar.istio.io/status", None)
            meta["annotations"]["ambient.istio.io/redirection"] = "enabled"
            meta.get("labels", {}).pop("security.istio.io/tlsMode", None)
            spec = doc["spec"]
            spec["containers"] = [c for c in spec["containers"] if c["name"] != "istio-proxy"]
            spec.pop("initContainers", None)
            status_ = doc.get("status", {})
            status_["containerStatuses"] = [c for c in status_.get("containerStatuses", [])
                                            if c["name"] != "istio-proxy"]
        out.append(doc)
    return out


def _bookinfo_ambient(tmp_path: Path, extra: str = "") -> list[str]:
    docs = [d for f in sorted((EXAMPLES / "bookinfo-healthy").glob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text()) if d]
    path = tmp_path / "bookinfo-ambient.yaml"
    path.write_text(yaml.safe_dump_all(_turned_ambient(docs)) + extra)
    return offline(path)


def test_healthy_bookinfo_turned_ambient_raises_no_sidecar_or_tls_alarm_only_the_ignored_split(tmp_path):
    doc = run_cli("scan", "-A", "-o", "json", *_bookinfo_ambient(tmp_path)).json()
    findings = [(r["target"]["host"], f["code"], f["severity"]) for r in doc["reports"] for f in r["findings"]
                if f["severity"] in ("warning", "error")]
    # reviews' 50/50 split between v1 and v3 is a mesh VirtualService: ambient productpage ignores it now
    assert findings == [("reviews.bookinfo.svc.cluster.local", "MD550", "warning")]


def test_healthy_bookinfo_turned_ambient_with_a_waypoint_is_clean(tmp_path):
    waypoint = """
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
status: {addresses: [{type: IPAddress, value: 10.96.3.3}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: waypoint-6f8d9c7b5-p2k4n
  namespace: bookinfo
  labels: {gateway.networking.k8s.io/gateway-name: waypoint, istio.io/dataplane-mode: none}
spec: {containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.24.2}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
"""
    args = _bookinfo_ambient(tmp_path, waypoint)
    path = Path(args[1])
    docs = list(yaml.safe_load_all(path.read_text()))
    for d in docs:
        if d["kind"] == "Namespace" and d["metadata"]["name"] == "bookinfo":
            d["metadata"]["labels"]["istio.io/use-waypoint"] = "waypoint"
    path.write_text(yaml.safe_dump_all(docs))
    result = run_cli("scan", "-A", "-o", "json", *args)
    doc = result.json()
    assert [(r["target"]["host"], f["code"]) for r in doc["reports"] for f in r["findings"]
            if f["severity"] in ("warning", "error")] == []
    assert result.exit_code == 0


# ------------------------------------------------------------------------------- ztunnel's access log

# ztunnel's access-log shape (istio.io, ambient/usage/debugging): time, level, `access`, `connection
# complete`, key=value fields; a failed connection adds error="...".
ZTUNNEL_OK = ('2026-11-27T02:59:05.028771Z\tinfo\taccess\tconnection complete\tsrc.addr=10.0.1.12:58508 '
              'src.workload="productpage-v1-87d54dd59-fn6vw" src.namespace="bookinfo" '
              'src.identity="spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage" dst.addr=10.0.1.30:15008 '
              'dst.hbone_addr="10.0.1.11:9080" dst.service="reviews.bookinfo.svc.cluster.local" '
              'dst.workload="reviews-v1-7f6558b974-k2qhj" dst.namespace="bookinfo" '
              'dst.identity="spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews" direction="outbound" '
              'bytes_sent=80 bytes_recv=175 duration="1ms"')
ZTUNNEL_FAILED = ('2026-11-27T02:59:06.101204Z\terror\taccess\tconnection complete\tsrc.addr=10.0.1.12:58512 '
                  'src.workload="productpage-v1-87d54dd59-fn6vw" src.namespace="bookinfo" '
                  'src.identity="spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage" '
                  'dst.addr=10.96.14.3:15008 dst.service="reviews.bookinfo.svc.cluster.local" '
                  'direction="outbound" bytes_sent=0 bytes_recv=0 duration="0ms" '
                  'error="no healthy upstream: 10.96.14.3:15008"')


def test_ztunnel_lines_parse_into_connections_with_their_error():
    from kubectl_meshdoctor.mesh.ztunnellog import parse_ztunnel_line

    ok = parse_ztunnel_line(ZTUNNEL_OK)
    assert ok is not None
    assert (ok.direction, ok.service, ok.workload, ok.hbone_addr, ok.source, ok.error) == (
        "outbound", "reviews.bookinfo.svc.cluster.local", "reviews-v1-7f6558b974-k2qhj", "10.0.1.11:9080",
        "bookinfo/productpage-v1-87d54dd59-fn6vw", "")
    failed = parse_ztunnel_line(ZTUNNEL_FAILED)
    assert failed is not None and (failed.level, failed.error) == ("error", "no healthy upstream: 10.96.14.3:15008")
    assert parse_ztunnel_line('[2026-11-27T02:59:05.028Z] "GET / HTTP/1.1" 200 - via_upstream') is None


def test_ztunnel_failures_reaching_a_waypoint_without_pods_are_symptoms_explained_by_it(live, tmp_path):
    from tests.conftest import objects_of

    files = _waypoint_world(tmp_path, _pods_gone)
    lines = "\n".join([ZTUNNEL_OK, ZTUNNEL_FAILED, ZTUNNEL_FAILED.replace("58512", "58513")]) + "\n"
    cluster = live(objects_of(files), logs={("istio-system", "ztunnel-4xk2p", "istio-proxy"): lines,
                                            ("istio-system", "ztunnel-9qmtw", "istio-proxy"): ZTUNNEL_OK + "\n"})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    doc = result.json()
    symptoms = doc["symptoms"]
    assert {w["pod"] for w in symptoms["logsRead"] if w["role"] == "ztunnel"} == {
        "istio-system/ztunnel-4xk2p", "istio-system/ztunnel-9qmtw"}
    assert symptoms["byClass"] == {"connections": 2, "connections failed": 2}
    [entry] = symptoms["entries"]
    assert (entry["direction"], entry["count"], entry["details"]) == (
        "ztunnel outbound", 2, "no healthy upstream: 10.96.14.3:15008")
    assert entry["explainedBy"] == ["MD551 waypoint-not-ready"]
    [finding] = found(doc, "MD551")
    assert finding["evidence"]["observed"] == [{"direction": "ztunnel outbound", "code": 0, "flags": [], "count": 2,
                                                "port": None}]
    text = cluster.run("host", "reviews", "-n", "bookinfo").stdout
    assert "connection failed (no healthy upstream: 10.96.14.3:15008) ×2 ztunnel outbound" in text


def test_no_ztunnel_log_is_read_for_a_host_without_ambient_pods(live):
    from tests.conftest import BASE, objects_of

    ztunnels = [d for d in yaml.safe_load_all(GROUND.read_text()) if d["metadata"]["name"].startswith("ztunnel-")]
    cluster = live([*objects_of([BASE, SCENARIOS / "workloads" / "ready.yaml"]), *ztunnels])
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    assert doc["workloads"]["pods"] and all(p["dataplane"] == "sidecar" for p in doc["workloads"]["pods"])
    assert all(w["role"] != "ztunnel" for w in doc["symptoms"]["logsRead"])


def test_a_pending_pod_is_not_called_uncaptured(tmp_path):
    docs = list(yaml.safe_load_all((SCENARIOS / "ambient" / "not-captured.yaml").read_text()))
    pod = next(d for d in docs if d["kind"] == "Pod")
    pod["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}
    path = tmp_path / "pending.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    doc = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", *offline(GROUND, path)).json()
    assert found(doc, "MD552") == [] and status(doc, "MD552")[0] == "passed"


def test_without_namespaces_the_ambient_questions_are_skipped_never_passed(live):
    """Namespaces unreadable: their ambient and waypoint labels are unknown, so the ambient checks are
    skipped (the run is incomplete), even for a host whose pods run sidecars."""
    from tests.conftest import BASE, objects_of
    from tests.fakeapi.server import KINDS, Access

    everything_but_namespaces = frozenset((k.plural, None) for k in KINDS if k.plural != "namespaces") | {
        ("pods/log", None)}
    worlds = ([BASE, SCENARIOS / "workloads" / "ready.yaml"], [GROUND, SCENARIOS / "ambient" / "not-captured.yaml"])
    for world in worlds:
        cluster = live(objects_of(world), tokens={"user": Access("user", everything_but_namespaces)})
        result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", token="user")
        doc = result.json()
        assert [status(doc, c)[0] for c in ("MD550", "MD552")] == ["skipped", "skipped"]
        assert "namespaces" in status(doc, "MD552")[1] and result.exit_code != 0


def test_workloads_name_each_pods_data_plane_and_only_ambient_ones_as_not_captured():
    doc = host("not-captured")
    modes = {p["pod"].split("/")[1]: p["dataplane"] for p in doc["workloads"]["pods"]}
    assert modes == {"reviews-v1-7f6558b974-k2qhj": "ambient", "reviews-v2-6cb6ccd848-qhl6d": "ambient",
                     "reviews-v3-cc56b578-5xbwm": "not-captured"}
    text = run_cli("host", "reviews", "-n", "bookinfo",
                   *offline(GROUND, SCENARIOS / "ambient" / "not-captured.yaml")).stdout
    assert "reviews-v3-cc56b578-5xbwm  ready, NOT IN THE MESH: namespace bookinfo labelled" in text
    # a pod outside any ambient namespace is simply without a sidecar
    plain = run_cli("host", "billing", "-n", "legacy",
                    *offline(SCENARIOS / "base.yaml", SCENARIOS / "workloads" / "no-sidecar.yaml")).stdout
    assert "legacy/billing-7d9f8c6b5-plain  ready, NO SIDECAR" in plain and "NOT IN THE MESH" not in plain
