"""Gateway API routes (issue 21): attachment, backends, ReferenceGrants and conflicts, MD450-MD453, on
broken and correct worlds (tests/scenarios/gatewayapi), offline and served by the fake API server
(the scenario worlds also go through the real API server's parity suite, status included)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SCENARIOS, found, objects_of, run_world
from tests.worlds import world_files

GATEWAY_API = SCENARIOS / "gatewayapi"
MODES = ("offline", "live")


def host(mode: str, live: Any, scenario: str, name: str, namespace: str = "bookinfo") -> dict[str, Any]:
    result = run_world(mode, live, world_files(GATEWAY_API / f"{scenario}.yaml"), "host", name, "-n", namespace,
                       "-o", "json")
    assert "Traceback" not in result.stderr, result.stderr
    return result.json() | {"exitCode": result.exit_code}


def codes(doc: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in doc["findings"] if f["code"].startswith("MD45"))


def status(doc: dict[str, Any], code: str) -> str:
    return next(c["status"] for c in doc["checks"] if c["code"] == code)


@pytest.mark.parametrize("mode", MODES)
def test_an_accepted_route_with_existing_backends_is_silent_and_shown_as_the_gateway_routes(mode, live):
    doc = host(mode, live, "route-accepted", "bookinfo.example.com")
    assert doc["target"]["host"] == "bookinfo.example.com" and codes(doc) == []
    assert [status(doc, c) for c in ("MD450", "MD451", "MD452", "MD453")] == ["passed"] * 4
    [http, https] = sorted(doc["routing"]["gateways"], key=lambda g: g["gateway"])
    assert http["gateway"].startswith("istio-ingress/ingress (Gateway API) listener http ")
    assert http["virtualHost"] == "bookinfo.example.com" and http["proxyNamespace"] == "istio-ingress"
    # Istio's merged order: Exact before PathPrefix, longer prefixes first, then by route age
    assert [(r["match"], r["from"]) for r in http["routes"]] == [
        ("Exact /login", "HTTPRoute bookinfo/bookinfo rule #1"),
        ("PathPrefix /productpage", "HTTPRoute bookinfo/bookinfo rule #1"),
        ("PathPrefix /reviews", "HTTPRoute bookinfo/bookinfo rule #2"),
        ("PathPrefix /static", "HTTPRoute bookinfo/bookinfo-static rule #1")]
    assert http["routes"][2]["destinations"] == ["reviews.bookinfo.svc.cluster.local:9080 (90%)",
                                                 "productpage.bookinfo.svc.cluster.local:9080 (10%)"]
    # bookinfo-static names no sectionName: it is on the https listener too; bookinfo only on http
    assert [r["from"] for r in https["routes"]] == ["HTTPRoute bookinfo/bookinfo-static rule #1"]
    assert doc["exitCode"] == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario, host_name, reason, said", [
    ("route-not-accepted-status", "bookinfo.example.com", "NotAllowedByListeners", "status"),
    ("route-parent-missing", "bookinfo.example.com", "NoMatchingParent", "model"),
    ("route-namespace-not-allowed", "bookinfo.example.com", "NotAllowedByListeners", "model"),
    ("route-hostname-mismatch", "bookinfo.example.org", "NotAllowedByListeners", "model"),
    ("mesh-parent-missing", "reviews", "NoMatchingParent", "model")])
def test_a_route_its_parent_does_not_take_is_md450(mode, live, scenario, host_name, reason, said):
    doc = host(mode, live, scenario, host_name)
    [finding] = found(doc, "MD450")
    assert finding["evidence"]["reason"] == reason and finding["evidence"]["from"] == said
    assert finding["severity"] == "error" and doc["exitCode"] == 1
    if said == "status":  # the controller's words are quoted, not paraphrased
        assert 'namespace "bookinfo" is not allowed by the parent' in finding["message"]
    if scenario == "route-hostname-mismatch":  # each listener says why it did not take the route
        assert "listener http (HTTP 80, *.example.com): no hostname of the route (bookinfo.example.org)" in \
            finding["message"]
        assert "listener internal (HTTP 8080): namespace bookinfo is not allowed" in finding["message"]
    if scenario == "mesh-parent-missing":
        assert "parent Service bookinfo/review does not exist" in finding["message"]
        assert "Mesh clients of Service bookinfo/review are not routed by it" in finding["message"]
    else:
        assert "get 404 (no route)" in finding["message"]


@pytest.mark.parametrize("mode", MODES)
def test_a_backend_that_does_not_exist_and_a_port_the_service_lacks_are_md451(mode, live):
    doc = host(mode, live, "backend-not-found", "bookinfo.example.com")
    by_missing = {f["evidence"]["missing"]: f for f in found(doc, "MD451")}
    assert set(by_missing) == {"service", "port"}
    service = by_missing["service"]
    assert service["evidence"]["backend"] == "bookinfo/productpage-v2:9080"
    assert "sends 50 of 100 of its requests to Service bookinfo/productpage-v2" in service["message"]
    assert "answered 500" in service["message"]
    port = by_missing["port"]
    assert port["port"] == 9090 and port["evidence"]["servicePorts"] == [9080] and "503 (NC)" in port["message"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario, expected", [("refgrant-missing", ["MD452"]), ("refgrant-ok", [])])
def test_a_cross_namespace_backend_needs_a_reference_grant(mode, live, scenario, expected):
    doc = host(mode, live, scenario, "bookinfo.example.com")
    assert codes(doc) == expected
    if expected:
        [finding] = found(doc, "MD452")
        assert finding["evidence"]["from"] == {"kind": "HTTPRoute", "namespace": "istio-ingress"}
        assert "kind: HTTPRoute, namespace: istio-ingress" in finding["remediation"][0]
    else:
        assert status(doc, "MD452") == "passed" and doc["exitCode"] == 0


@pytest.mark.parametrize("mode", MODES)
def test_identical_matches_on_one_listener_and_hostname_are_md453_naming_the_route_in_effect(mode, live):
    doc = host(mode, live, "conflict", "bookinfo.example.com")
    [finding] = found(doc, "MD453")
    assert finding["evidence"]["inEffect"] == "HTTPRoute bookinfo/bookinfo-old rule #1"
    assert finding["evidence"]["neverMatch"] == ["HTTPRoute bookinfo/bookinfo-new rule #1"]
    assert finding["evidence"]["match"] == "PathPrefix /productpage"  # an omitted path type is PathPrefix
    assert finding["severity"] == "warning"
    # the route that never matches is reviews' only route: its report says so too
    reviews = host(mode, live, "conflict", "reviews")
    assert [f["evidence"]["neverMatch"] for f in found(reviews, "MD453")] == [
        ["HTTPRoute bookinfo/bookinfo-new rule #1"]]


@pytest.mark.parametrize("mode", MODES)
def test_mesh_routes_attach_to_services_and_need_no_reference_grant(mode, live):
    """GAMMA: Istio converts mesh routes with enforceRefGrant=false, so the cross-namespace mesh route
    of legacy is no MD452; each namespace's mesh routes form their own list."""
    doc = host(mode, live, "mesh-route", "reviews")
    assert codes(doc) == [] and status(doc, "MD452") == "passed"
    lists = {g["gateway"]: g for g in doc["routing"]["gateways"]}
    assert set(lists) == {"mesh (Gateway API): routes of bookinfo attached to Service bookinfo/reviews",
                          "mesh (Gateway API): routes of legacy attached to Service bookinfo/reviews"}
    mine = lists["mesh (Gateway API): routes of bookinfo attached to Service bookinfo/reviews"]
    assert [(r["match"], r["catchAll"]) for r in mine["routes"]] == [("PathPrefix /reviews/v2", False),
                                                                     ("PathPrefix /", True)]


@pytest.mark.parametrize("mode", MODES)
def test_hosts_only_routes_name_are_scanned(mode, live):
    result = run_world(mode, live, world_files(GATEWAY_API / "route-accepted.yaml"), "scan", "-A", "-o", "json")
    hosts = [r["target"]["host"] for r in result.json()["reports"]]
    assert "bookinfo.example.com" in hosts


def test_without_gateway_api_routes_the_checks_do_not_apply(live):
    doc = host("live", live, "route-accepted", "reviews")  # reviews: only a 10% backend of a route
    assert status(doc, "MD451") == "passed"
    bare = live(objects_of([SCENARIOS / "base.yaml", SCENARIOS / "workloads" / "ready.yaml"])).run(
        "host", "reviews", "-n", "bookinfo", "-o", "json").json()
    assert {c["code"]: c["status"] for c in bare["checks"] if c["code"].startswith("MD45")} == dict.fromkeys(
        ("MD450", "MD451", "MD452", "MD453"), "not-run")
