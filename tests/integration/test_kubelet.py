"""Logs through a real API server: plugin -> kube-apiserver (pods/log) -> the node's kubelet (a
stand-in speaking the kubelet's log parameters). MD601, MD702 and the Symptoms end to end, and the
faults a real cluster has: the kubelet of one node down, one slow pod, every pod slow.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

from tests.conftest import BASE, SCENARIOS, found, objects_of, run_cli

LOGS = SCENARIOS / "logs"
WORLD = [BASE, SCENARIOS / "http10" / "reviews.yaml"]
V1, V2, CLIENT = "reviews-v1-abc12-x1", "reviews-v2-def34-x2", "productpage-v1-123ab-p1"


def load(real, files, logs: dict[tuple[str, str], str], down: frozenset[str] = frozenset()):
    real.load_world(objects_of(files), down=down)
    real.kubelet.state.logs.update({(ns, pod, "istio-proxy"): text for (ns, pod), text in logs.items()})


def host(real, *args: str):
    result = run_cli("host", *args, "-o", "json", "--kubeconfig", str(real.kubeconfig("plugin")))
    assert "Traceback" not in result.stderr, result.stderr
    return result


def check(doc: dict, code: str) -> dict:
    return next(c for c in doc["checks"] if c["code"] == code)


def test_http10_rejections_are_read_through_the_api_server_and_the_kubelet(real):
    load(real, WORLD, {("bookinfo", V1): (LOGS / "reviews-inbound-426.log").read_text()})
    doc = host(real, "reviews", "-n", "bookinfo").json()
    [finding] = found(doc, "MD601")
    assert finding["evidence"]["count"] == 2 and finding["evidence"]["pods"] == [f"bookinfo/{V1}"]
    asked = [r for r in real.kubelet.state.requests if f"/containerLogs/bookinfo/{V1}/istio-proxy" in r]
    assert asked and all("tailLines=" in r and "limitBytes=524288" in r and "sinceSeconds=900" in r for r in asked)


def test_symptoms_and_their_cause_through_the_real_server(real):
    files = [BASE, SCENARIOS / "workloads" / "ready.yaml", SCENARIOS / "symptoms" / "bookinfo-clients.yaml",
             SCENARIOS / "subsets" / "missing-subset.yaml"]
    load(real, files, {("bookinfo", "productpage-v1-6b746f74dc-9stvs"): (LOGS / "productpage-nc-1.22.log").read_text()})
    doc = host(real, "reviews", "-n", "bookinfo").json()
    [nc] = [e for e in doc["symptoms"]["entries"] if e["flags"] == ["NC"]]
    assert nc["explainedBy"] == ["MD301 subset-not-defined"] and nc["count"] == 2


def test_hot_restarts_in_the_proxy_log_through_the_real_server(real):
    tcp = SCENARIOS / "tcp"
    load(real, [tcp / "ground-1.4.yaml", tcp / "mongodb-file-certs.yaml"],
         {("db", "mongodb-0"): (LOGS / "mongodb-hot-restart-1.4.log").read_text()})
    [finding] = found(host(real, "mongodb", "-n", "db").json(), "MD702")
    assert finding["evidence"]["pods"]["db/mongodb-0"]["hotRestartEpoch"] == 1
    assert "--previous" not in " ".join(finding["remediation"])


def test_the_kubelet_of_one_node_down_costs_its_pods_only(real):
    # the sidecar rejecting HTTP/1.0 is on the node whose kubelet is down: the API server answers the
    # log read with its dial error; MD601 must not pass
    load(real, WORLD, {("bookinfo", V1): (LOGS / "reviews-inbound-426.log").read_text(), ("bookinfo", V2): ""},
         down=frozenset({V1}))
    result = host(real, "reviews", "-n", "bookinfo")
    doc = result.json()
    md601 = check(doc, "MD601")
    assert md601["status"] == "partial" and f"bookinfo/{V1}" in md601["reason"], md601
    assert "connection refused" in md601["reason"]
    assert result.exit_code == 4


def test_one_slow_kubelet_answer_costs_that_pod_only(real):
    load(real, WORLD, {("bookinfo", V1): (LOGS / "reviews-inbound-426.log").read_text(), ("bookinfo", V2): ""})
    real.kubelet.state.slow[("bookinfo", V2)] = 8.0
    started = time.monotonic()
    result = host(real, "reviews", "-n", "bookinfo", "--request-timeout", "3s")
    assert time.monotonic() - started < 7.5
    doc = result.json()
    assert found(doc, "MD601") and f"bookinfo/{V2}" in check(doc, "MD601")["reason"]
    assert result.exit_code == 1  # the rejection seen on v1 is still reported


def test_every_kubelet_slow_is_a_report_with_missing_evidence_not_a_lost_cluster(real):
    load(real, WORLD, {("bookinfo", V1): "", ("bookinfo", V2): "", ("bookinfo", CLIENT): ""})
    real.kubelet.state.slow.update({("bookinfo", V1): 8.0, ("bookinfo", V2): 8.0, ("bookinfo", CLIENT): 8.0})
    result = host(real, "reviews", "-n", "bookinfo", "--request-timeout", "3s")
    doc = result.json()
    assert check(doc, "MD601")["status"] == "skipped" and "no proxy log could be read" in check(doc, "MD601")["reason"]
    assert result.exit_code == 4


def test_the_newest_lines_are_read_when_the_log_is_larger_than_log_bytes(real):
    old = "".join(f'@-600 [2026-11-27T00:50:{i % 60:02d}.000Z] "GET /reviews/{i} HTTP/1.1" 200 - via_upstream - "-" '
                  f'0 295 4 3 "-" "python-requests/2.31" "id-{i}" "reviews:9080" "10.0.0.1:9080" inbound|9080|| '
                  f"127.0.0.6:51111 10.0.0.1:9080 10.0.0.9:48812 outbound_.9080_._.reviews.bookinfo.svc.cluster.local "
                  f"default\n" for i in range(4000))
    newest = "".join(f'[2026-11-27T01:10:{i:02d}.000Z] "GET /reviews/{i} HTTP/1.1" 503 UH no_healthy_upstream - "-" '
                     f'0 19 0 - "-" "python-requests/2.31" "uh-{i}" "reviews:9080" "-" inbound|9080|| - 10.0.0.1:9080 '
                     f"10.0.0.9:48812 - default\n" for i in range(6))
    load(real, WORLD, {("bookinfo", V1): old + newest, ("bookinfo", V2): ""})
    doc = host(real, "reviews", "-n", "bookinfo", "--log-bytes", "65536").json()
    assert [e["count"] for e in doc["symptoms"]["entries"] if e["flags"] == ["UH"]] == [6]


@contextlib.contextmanager
def stale_details_proxy(real) -> Iterator[None]:
    """bookinfo-healthy and an istiod that generates the healthy dump for the details proxy, whose own
    Envoy admin holds one cluster less; both stand-ins are reached through the kubelet's forwards."""
    from tests.test_proxy_config import DETAILS, HEALTHY, ISTIOD_POD, WORLD, stub, without_v2

    real.load_world([*objects_of([WORLD]), ISTIOD_POD])
    generated = json.loads(HEALTHY.read_text())
    istiod, envoy = stub({f"{DETAILS}.bookinfo": generated}), stub({"admin": without_v2(generated)})
    real.kubelet.state.forwards.update({
        ("istio-system", ISTIOD_POD["metadata"]["name"], 15014): istiod.server_address[:2],
        ("bookinfo", DETAILS, 15000): envoy.server_address[:2]})
    try:
        yield
    finally:
        istiod.shutdown()
        envoy.shutdown()


def test_probe_reads_proxy_configuration_through_the_api_server_and_the_kubelet(real):
    """--probe through a real API server: the websocket port-forward to the details proxy's Envoy admin
    (15000) and to istiod's monitoring port (15014) are upgraded by kube-apiserver and answered by the
    node's kubelet, which forwards to the test's stand-ins; the held dump lacks a cluster istiod now
    generates, so MD801 names staleness as the cause."""
    from tests.test_proxy_config import DETAILS, ISTIOD_POD, REVIEWS

    with stale_details_proxy(real):
        result = host(real, "reviews", "-n", "bookinfo", "--probe", "--no-logs")
    [finding] = found(result.json(), "MD801")
    assert finding["evidence"]["missing"] == [f"outbound|9080|v2|{REVIEWS}"]
    assert finding["evidence"]["file"] == f"Envoy admin of {DETAILS}.bookinfo /config_dump"
    assert "Cause: stale configuration" in finding["message"]
    asked = real.kubelet.state.requests
    assert [r for r in asked if r.startswith(f"/portForward/bookinfo/{DETAILS}") and "port=15000" in r]
    assert [r for r in asked if r.startswith(f"/portForward/istio-system/{ISTIOD_POD['metadata']['name']}")]


def test_a_denied_port_forward_reads_the_envoy_admin_through_exec_on_the_real_server(real):
    """Credentials that may exec but not port-forward (a Role without pods/portforward): kube-apiserver
    refuses the port-forward in its own words, and the proxy's configuration is read by `pilot-agent
    request GET config_dump` in its istio-proxy container, exec'd through the API server and the kubelet."""
    from tests.test_proxy_config import DETAILS

    rules = [{"apiGroups": [""], "resources": ["services", "pods", "endpoints", "configmaps", "pods/log"],
              "verbs": ["get", "list"]},
             {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
             {"apiGroups": ["networking.istio.io", "security.istio.io"], "resources": ["*"], "verbs": ["get", "list"]}]
    with stale_details_proxy(real):
        real.grant("oncall", "oncall-exec", rules, ("bookinfo", "istio-system"))
        result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", "--probe", "--no-logs",
                         "--kubeconfig", str(real.kubeconfig("reader", namespace="bookinfo")))
    assert "Traceback" not in result.stderr, result.stderr
    [finding] = found(result.json(), "MD801")
    assert finding["evidence"]["file"] == f"Envoy admin of {DETAILS}.bookinfo /config_dump"
    assert "Cause: stale configuration" in finding["message"]
    execs = [r for r in real.kubelet.state.requests if r.startswith(f"/exec/bookinfo/{DETAILS}/istio-proxy")]
    assert execs and "command=pilot-agent" in execs[0] and "command=config_dump" in execs[0]
    assert not [r for r in real.kubelet.state.requests if r.startswith("/portForward/")]  # refused by the server
