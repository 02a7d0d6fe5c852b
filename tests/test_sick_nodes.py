"""Live evidence survives a sick node: logs are read pod by pod through the API server, which proxies
each read to the pod's kubelet. A kubelet that refuses or stalls costs that pod's evidence (named, the
log checks `partial`, exit 4), never the run; exit 3 only when the API server itself stops answering.
The newest lines of a log larger than --log-bytes are the ones read (tailLines, applied by the kubelet
before limitBytes). Served by the fake API server's pods/log, with the kubelet's parameter semantics.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import BASE, SCENARIOS, found, objects_of

LOGS = SCENARIOS / "logs"
WORLD = [BASE, SCENARIOS / "http10" / "reviews.yaml"]
V1, V2 = ("bookinfo", "reviews-v1-abc12-x1"), ("bookinfo", "reviews-v2-def34-x2")
CLIENT = ("bookinfo", "productpage-v1-123ab-p1")  # a client sidecar in the same namespace: its log is read too


def serve(live, logs: dict[tuple[str, str], str], files: list[Path] = WORLD, **kw):
    return live(objects_of(files), logs={(ns, pod, "istio-proxy"): text for (ns, pod), text in logs.items()}, **kw)


def check(doc: dict, code: str) -> dict:
    return next(c for c in doc["checks"] if c["code"] == code)


def test_a_refusing_kubelet_makes_the_log_checks_partial_and_names_the_pod(live):
    # the sidecar rejecting HTTP/1.0 is on the sick node: nothing is found, and that is not a pass
    cluster = serve(live, {V1: (LOGS / "reviews-inbound-426.log").read_text(), V2: ""},
                    sick_kubelets={V1: "refused"})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    doc = result.json()
    md601 = check(doc, "MD601")
    assert md601["status"] == "partial"
    assert "bookinfo/reviews-v1-abc12-x1" in md601["reason"] and "connection refused" in md601["reason"]
    assert "reviews-v1-abc12-x1" in doc["symptoms"]["logsNotRead"]
    assert sorted(w["pod"] for w in doc["symptoms"]["logsRead"]) == ["bookinfo/productpage-v1-123ab-p1",
                                                                     "bookinfo/reviews-v2-def34-x2"]
    assert result.exit_code == 4
    text = cluster.run("host", "reviews", "-n", "bookinfo").stdout
    assert text.splitlines()[3].startswith("‼ INCOMPLETE: ")  # never called clean, and said first


def test_one_slow_kubelet_costs_that_pod_only(live):
    cluster = serve(live, {V1: (LOGS / "reviews-inbound-426.log").read_text(), V2: ""}, sick_kubelets={V2: 6.0})
    started = time.monotonic()
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--request-timeout", "2s")
    assert time.monotonic() - started < 5.5  # the pod's own deadline, not the kubelet's 6 s
    doc = result.json()
    [finding] = found(doc, "MD601")  # v1's evidence still arrived
    assert finding["evidence"]["pods"] == ["bookinfo/reviews-v1-abc12-x1"]
    assert "reviews-v2-def34-x2" in check(doc, "MD601")["reason"]  # failed, and what it could not see
    assert result.exit_code == 1


def test_every_kubelet_slow_is_missing_evidence_not_a_lost_cluster(live):
    cluster = serve(live, {V1: "", V2: ""}, sick_kubelets={V1: 6.0, V2: 6.0, CLIENT: 6.0})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--request-timeout", "2s")
    doc = result.json()  # a report, not "the API server stopped answering"
    assert check(doc, "MD601")["status"] == "skipped"
    assert "no proxy log could be read" in check(doc, "MD601")["reason"]
    assert any(f["code"] == "MD506" for f in doc["findings"]) is False and doc["summary"]["error"] == 0
    assert result.exit_code == 4


def test_the_newest_lines_of_a_log_larger_than_log_bytes_are_read(live):
    old = "".join(f'@-600 [2026-11-27T00:50:{i % 60:02d}.000Z] "GET /reviews/{i} HTTP/1.1" 200 - via_upstream - "-" '
                  f'0 295 4 3 "-" "python-requests/2.31" "id-{i}" "reviews:9080" "10.0.0.1:9080" inbound|9080|| '
                  f"127.0.0.6:51111 10.0.0.1:9080 10.0.0.9:48812 outbound_.9080_._.reviews.bookinfo.svc.cluster.local "
                  f"default\n" for i in range(4000))  # ~1.3 MB of old successes
    newest = "".join(f'[2026-11-27T01:10:{i:02d}.000Z] "GET /reviews/{i} HTTP/1.1" 503 UH no_healthy_upstream - "-" '
                     f'0 19 0 - "-" "python-requests/2.31" "uh-{i}" "reviews:9080" "-" inbound|9080|| - 10.0.0.1:9080 '
                     f"10.0.0.9:48812 - default\n" for i in range(6))
    cluster = serve(live, {V1: old + newest, V2: ""})
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--log-bytes", "65536").json()
    uh = [e for e in doc["symptoms"]["entries"] if e["code"] == 503 and e["flags"] == ["UH"]]
    assert [e["count"] for e in uh] == [6]
    [window] = [w for w in doc["symptoms"]["logsRead"] if w["pod"] == "bookinfo/reviews-v1-abc12-x1"]
    assert window["bytes"] <= 65536 and window["sinceSeconds"] == 900 and window["tailLines"] > 6
    reads = [r for r in cluster.cluster.requests if r.path.endswith("reviews-v1-abc12-x1/log")]
    assert all(r.query["tailLines"] and r.query["limitBytes"] == "65536" for r in reads)


def test_an_istio_1_4_http10_rejection_without_flags_is_recognised(live):
    """Before 1.9 there are no response-code details, and old Envoy sent the HTTP/1.0 426 with no DPE
    flag: 426 + HTTP/1.0 + no upstream host is the proxy's own rejection; an app's 426 has an upstream."""
    cluster = serve(live, {V1: (LOGS / "reviews-inbound-426-1.4.log").read_text(), V2: ""})
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    [finding] = found(doc, "MD601")
    assert finding["evidence"]["count"] == 2 and finding["evidence"]["direction"] == "inbound"
    [entry] = [e for e in doc["symptoms"]["entries"] if e["code"] == 426 and e["explainedBy"]]
    assert entry["explainedBy"] == ["MD601 http10-rejected"]


def test_previous_logs_are_advised_only_when_a_terminated_proxy_exists(live):
    tcp = SCENARIOS / "tcp"
    hot = serve(live, {("db", "mongodb-0"): (LOGS / "mongodb-hot-restart-1.4.log").read_text()},
                files=[tcp / "ground-1.4.yaml", tcp / "mongodb-file-certs.yaml"])
    [restart] = found(hot.run("host", "mongodb", "-n", "db", "-o", "json").json(), "MD702")
    assert "--previous" not in " ".join(restart["remediation"])  # restartCount 0: nothing terminated
    oom = live(objects_of([tcp / "ground-current.yaml", tcp / "mongodb-sidecar-oom.yaml"]))
    [killed] = found(oom.run("host", "mongodb", "-n", "db", "-o", "json").json(), "MD702")
    assert "-c istio-proxy --previous" in " ".join(killed["remediation"])
