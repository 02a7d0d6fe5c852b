"""Symptoms from the proxies' access logs, tied to the findings that explain them (issue 11).

Logs are served by the fake API server's pods/log subresource, in Istio's text format of 1.22 and of
1.6 (before response-code details) and in JSON, and read through the real client.
"""

from __future__ import annotations

from pathlib import Path

from kubectl_meshdoctor.checks.attribution import explain
from kubectl_meshdoctor.checks.catalogue import BY_CODE
from kubectl_meshdoctor.checks.findings import Finding
from kubectl_meshdoctor.mesh.symptoms import Symptom
from tests.conftest import BASE, SCENARIOS, found, objects_of
from tests.fakeapi.server import KINDS, Access

LOGS = SCENARIOS / "logs"
REVIEWS = [BASE, SCENARIOS / "workloads" / "ready.yaml", SCENARIOS / "symptoms" / "bookinfo-clients.yaml"]
HTTPBIN = [SCENARIOS / "tls" / "ground.yaml", SCENARIOS / "tls" / "mesh-strict.yaml",
           SCENARIOS / "symptoms" / "default-client.yaml"]


def serve(live, files: list[Path], logs: dict[tuple[str, str], str], **kw):
    return live(objects_of(files), logs={(ns, pod, "istio-proxy"): (LOGS / name).read_text()
                                         for (ns, pod), name in logs.items()}, **kw)


def entries(doc: dict) -> list[dict]:
    return doc["symptoms"]["entries"]


def test_missing_subset_503s_are_attributed_to_subset_not_defined(live):
    cluster = serve(live, [*REVIEWS, SCENARIOS / "subsets" / "missing-subset.yaml"], {
        ("bookinfo", "productpage-v1-6b746f74dc-9stvs"): "productpage-nc-1.22.log",
        ("bookinfo", "details-v1-79f774bdb9-kqhvd"): "details-nr-1.6.log"})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    doc = result.json()
    nc, nr = entries(doc)
    assert (nc["code"], nc["flags"], nc["details"], nc["count"], nc["subset"], nc["port"]) == (
        503, ["NC"], "cluster_not_found", 2, "v3", 9080)
    assert nc["pods"] == ["bookinfo/productpage-v1-6b746f74dc-9stvs"] and nc["direction"] == "outbound"
    assert (nc["first"], nc["last"]) == ("2026-11-27T01:20:01.220Z", "2026-11-27T01:20:03.455Z")
    assert (nr["code"], nr["flags"], nr["count"], nr["subset"]) == (503, ["NR"], 1, "v3")  # 1.6: NR, no details
    assert nc["explainedBy"] == nr["explainedBy"] == ["MD301 subset-not-defined"]
    assert doc["symptoms"]["byClass"] == {"2xx": 3, "5xx": 3}  # the details request is not about reviews
    [md301] = found(doc, "MD301")
    assert md301["evidence"]["observed"] == [
        {"direction": "outbound", "code": 503, "flags": ["NC"], "count": 2, "port": 9080},
        {"direction": "outbound", "code": 503, "flags": ["NR"], "count": 1, "port": 9080}]
    text = cluster.run("host", "reviews", "-n", "bookinfo").stdout
    symptoms_at = text.index("Symptoms in the proxy logs (last 15m: ")
    assert text.index("traffic to this host is failing") < symptoms_at < text.index("Problems, worst first")
    assert "503 NC cluster_not_found ×2 outbound at bookinfo/productpage-v1-6b746f74dc-9stvs" in text
    assert "explained by MD301 subset-not-defined" in text


def test_tls_conflict_symptoms_on_both_sides_are_attributed_to_tls_conflict(live):
    cluster = serve(live, [*HTTPBIN, SCENARIOS / "tls" / "guidelines-httpbin.yaml"], {
        ("default", "sleep-9454cc476-wzv7q"): "sleep-uf-json.log",
        ("default", "httpbin-v1-5d9f8-aaaaa"): "httpbin-filter-chain.log"})
    doc = cluster.run("host", "httpbin", "-n", "default", "-o", "json").json()
    by_direction = {e["direction"]: e for e in entries(doc)}
    assert set(by_direction) == {"outbound", "inbound"}  # httpbin's own outbound call is not counted
    client, server = by_direction["outbound"], by_direction["inbound"]
    assert (client["code"], client["flags"], client["count"], client["port"]) == (503, ["UF", "URX"], 2, 8000)
    assert (server["code"], server["flags"], server["details"], server["count"], server["port"]) == (
        0, ["NR"], "filter_chain_not_found", 2, 8000)
    assert client["explainedBy"] == server["explainedBy"] == ["MD201 tls-conflict"]
    [md201] = [f for f in found(doc, "MD201") if f["port"] == 8000]
    assert {(o["direction"], o["count"]) for o in md201["evidence"]["observed"]} == {("outbound", 2), ("inbound", 2)}


def test_a_symptom_without_a_configuration_cause_says_so(live):
    cluster = serve(live, REVIEWS, {("bookinfo", "productpage-v1-6b746f74dc-9stvs"): "reviews-uf-unexplained.log"})
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    [entry] = entries(doc)
    assert entry["explainedBy"] == [] and entry["upstreamFailure"] == "delayed connect error: 111"
    assert entry["explanation"] == ("503 UF upstream_reset_before_response_started{connection_failure} on "
                                    "reviews.bookinfo.svc.cluster.local:9080 not explained by configuration — check "
                                    "the upstream application")


def test_the_correct_world_shows_only_totals(live):
    cluster = serve(live, REVIEWS, {("bookinfo", "reviews-v1-abc12-x1"): "reviews-clean.log"})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    symptoms = result.json()["symptoms"]
    assert symptoms["entries"] == [] and symptoms["byClass"] == {"2xx": 2} and symptoms["forHost"] == 2
    assert result.exit_code == 0


def test_forbidden_logs_leave_the_symptoms_unread_with_the_reason(live):
    no_logs = Access("oncall", frozenset((k.plural, None) for k in KINDS))
    cluster = serve(live, REVIEWS, {("bookinfo", "reviews-v1-abc12-x1"): "reviews-clean.log"},
                    tokens={"oncall": no_logs})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", token="oncall")
    symptoms = result.json()["symptoms"]
    assert symptoms["entries"] == []
    assert symptoms["notRead"].startswith("forbidden: get pods/log in bookinfo")
    assert result.exit_code == 4
    text = cluster.run("host", "reviews", "-n", "bookinfo", token="oncall").stdout
    assert "Symptoms: proxy logs not read (forbidden: get pods/log in bookinfo" in text


def test_lines_that_do_not_parse_are_counted_not_fatal(live):
    # the productpage log of the HTTP/1.0 stories ends with a line cut in the middle of its JSON
    cluster = serve(live, [*REVIEWS, SCENARIOS / "http10" / "reviews.yaml"],
                    {("bookinfo", "productpage-v1-123ab-p1"): "productpage-outbound-426.log"})
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    assert doc["symptoms"]["unparsedLines"] == 1
    [entry] = entries(doc)
    assert (entry["code"], entry["explainedBy"]) == (426, ["MD601 http10-rejected"])


def test_offline_and_no_logs_runs_have_no_symptoms_section(live):
    cluster = serve(live, REVIEWS, {})
    assert cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--no-logs").json()["symptoms"] is None


def test_symptoms_are_in_the_markdown_report_too(live):
    cluster = serve(live, [*REVIEWS, SCENARIOS / "subsets" / "missing-subset.yaml"],
                    {("bookinfo", "productpage-v1-6b746f74dc-9stvs"): "productpage-nc-1.22.log"})
    text = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "markdown").stdout
    assert "**Symptoms in the proxy logs (last 15m: " in text
    assert "- ✗ 503 NC cluster_not_found ×2 outbound" in text and "explained by MD301 subset-not-defined" in text


# ------------------------------------------------------------------ the attribution rules, one by one

def symptom(code: int, flags: tuple[str, ...], subset: str = "", details: str = "", failure: str = "") -> Symptom:
    return Symptom("outbound", code, flags, details, 9080, subset, 3, "t0", "t1", "sample", ("ns/p",), failure)


def finding(code: str, subset: str | None = None, port: int | None = None) -> Finding:
    return Finding(BY_CODE[code], "m", "reviews.bookinfo.svc.cluster.local", subset=subset, port=port)


HOST = "reviews.bookinfo.svc.cluster.local"


def test_no_healthy_upstream_is_explained_by_an_empty_subset_or_no_endpoints():
    empty_v2, no_endpoints = finding("MD302", subset="v2"), finding("MD506")
    assert explain(symptom(503, ("UH",), "v2"), [empty_v2, no_endpoints], HOST).explained_by == (empty_v2,)
    assert explain(symptom(503, ("UH",), "v1"), [empty_v2, no_endpoints], HOST).explained_by == (no_endpoints,)
    alone = explain(symptom(503, ("UH",), "v1"), [], HOST)
    assert alone.explained_by == () and "check the upstream application" in alone.explanation


def test_no_route_is_explained_by_routing_findings_only():
    routing, tls = finding("MD101"), finding("MD201", port=9080)
    assert explain(symptom(404, ("NR",)), [routing, tls], HOST).explained_by == (routing,)
    unexplained = explain(symptom(404, ("NR",)), [tls], HOST)
    assert unexplained.explained_by == () and "VirtualService's hosts and match rules" in unexplained.explanation


def test_upstream_connect_failures_need_a_tls_reason_or_a_tls_finding_on_that_port():
    other_port = finding("MD201", port=8000)
    plain = explain(symptom(503, ("UF",)), [other_port], HOST)
    assert plain.explained_by == () and "not explained by configuration" in plain.explanation
    handshake = explain(symptom(503, ("UF",), failure="TLS error: WRONG_VERSION_NUMBER"), [], HOST)
    assert handshake.explained_by == () and "with a TLS error" in handshake.explanation
    on_port = finding("MD202", port=9080)
    assert explain(symptom(503, ("URX", "UF")), [on_port], HOST).explained_by == (on_port,)


def test_http10_rejections_are_explained_by_the_http10_findings():
    nginx = finding("MD602")
    assert explain(symptom(426, ("DPE",), details="low_version"), [nginx], HOST).explained_by == (nginx,)
    assert "a client speaks HTTP/1.0" in explain(symptom(426, ("DPE",)), [], HOST).explanation
    by_the_app = explain(symptom(426, ()), [nginx], HOST)  # the application asked for an upgrade itself
    assert by_the_app.explained_by == () and "check the upstream application" in by_the_app.explanation
