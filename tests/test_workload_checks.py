"""MD506 service-no-ready-endpoints and MD502 pod-without-sidecar, on broken and correct worlds.

Every scenario runs twice: from files (--offline) and from the fake API server through the real
client, and must give the same verdict both ways.
"""

from __future__ import annotations

import pytest

from tests.conftest import found as findings
from tests.conftest import offline, run_cli, run_world, scenario_files

MODES = ("offline",)  # live: tests/test_parity_fake.py proves every world the same served by the API


def report(mode: str, live, scenario: str, host: str, namespace: str, *extra: str):
    result = run_world(mode, live, scenario_files(scenario), "host", host, "-n", namespace, "-o", "json", *extra)
    assert "Traceback" not in result.stderr
    return result


def status_of(doc: dict, code: str) -> str:
    return next(c["status"] for c in doc["checks"] if c["code"] == code)


@pytest.mark.parametrize("mode", MODES)
def test_ready_injected_service_is_silent_and_exits_zero(mode, live):
    result = report(mode, live, "workloads/ready", "reviews", "bookinfo")
    doc = result.json()
    assert doc["findings"] == []
    assert status_of(doc, "MD506") == "passed"
    assert status_of(doc, "MD502") == "passed"
    assert result.exit_code == 0


@pytest.mark.parametrize("mode", MODES)
def test_no_ready_endpoints_names_each_pod_and_why(mode, live):
    result = report(mode, live, "workloads/not-ready", "reviews", "bookinfo")
    [finding] = findings(result.json(), "MD506")
    assert finding["severity"] == "error"
    assert finding["host"] == "reviews.bookinfo.svc.cluster.local"
    assert "0 of 2 pods ready" in finding["message"]
    assert finding["evidence"]["pods"] == {"reviews-v1-abc12-x1": "CrashLoopBackOff in reviews",
                                           "reviews-v2-def34-x2": "readiness probe of reviews failing"}
    kinds = {(r["kind"], r["name"]) for r in finding["resources"]}
    assert {("Service", "reviews"), ("Endpoints", "reviews"), ("Pod", "reviews-v1-abc12-x1")} <= kinds
    assert any("kubectl describe pods -n bookinfo -l app=reviews" in step for step in finding["remediation"])
    assert result.exit_code == 1


@pytest.mark.parametrize("mode", MODES)
def test_selector_matching_no_pod_is_called_out(mode, live):
    result = report(mode, live, "workloads/selector-mismatch", "reviews", "bookinfo")
    [finding] = findings(result.json(), "MD506")
    assert "no pod in bookinfo matches its selector app=reviews" in finding["message"]
    assert result.exit_code == 1


@pytest.mark.parametrize("mode", MODES)
def test_pods_without_sidecar_get_a_reason_each(mode, live):
    result = report(mode, live, "workloads/no-sidecar", "billing", "legacy")
    doc = result.json()
    [finding] = findings(doc, "MD502")
    assert finding["severity"] == "warning"
    assert finding["evidence"]["podsWithoutSidecar"] == {
        "billing-7d9f8c6b5-plain": "namespace legacy has no istio-injection or istio.io/rev label",
        "billing-node-agent-x7k2p": "hostNetwork pods are never injected",
    }
    steps = " ".join(finding["remediation"])
    assert "kubectl label namespace legacy istio-injection=enabled" in steps
    assert "kubectl rollout restart deployment/billing -n legacy" in steps
    assert status_of(doc, "MD506") == "passed"
    assert result.exit_code == 0  # warnings do not fail the default --fail-on error


@pytest.mark.parametrize("mode", MODES)
def test_fail_on_warning_turns_a_warning_into_exit_one(mode, live):
    result = report(mode, live, "workloads/no-sidecar", "billing", "legacy", "--fail-on", "warning")
    assert result.exit_code == 1


@pytest.mark.parametrize("mode", MODES)
def test_injection_disabled_by_annotation(mode, live):
    [finding] = findings(report(mode, live, "workloads/inject-annotation", "reviews", "bookinfo").json(), "MD502")
    assert finding["evidence"]["podsWithoutSidecar"] == {
        "reviews-v1-abc12-x1": "injection disabled by sidecar.istio.io/inject=false"}
    steps = " ".join(finding["remediation"])
    assert "sidecar.istio.io/inject" in steps and "rollout restart deployment/reviews-v1 -n bookinfo" in steps
    assert "kubectl label namespace" not in steps  # bookinfo already asks for injection
    assert finding["severity"] == "info" and finding["evidence"]["meshConfiguration"] == []


@pytest.mark.parametrize("mode", MODES)
def test_an_opted_out_pod_that_mesh_configuration_targets_is_a_warning(mode, live):
    """Item 8 of the semantics round: the opt-out matters when the mesh expects the pods."""
    [finding] = findings(report(mode, live, "workloads/opted-out-targeted", "reviews", "bookinfo").json(), "MD502")
    assert finding["severity"] == "warning"
    assert finding["evidence"]["meshConfiguration"] == ["DestinationRule bookinfo/reviews"]
    assert "mesh configuration targets it (DestinationRule bookinfo/reviews)" in finding["message"]


@pytest.mark.parametrize("mode", MODES)
def test_native_sidecar_counts_as_a_sidecar(mode, live):
    doc = report(mode, live, "workloads/native-sidecar", "reviews", "bookinfo").json()
    assert status_of(doc, "MD502") == "passed"
    assert findings(doc, "MD502") == []


@pytest.mark.parametrize("mode", MODES)
def test_external_name_service_is_not_asked_about_endpoints(mode, live):
    result = report(mode, live, "workloads/external-name", "payments", "bookinfo")
    check = next(c for c in result.json()["checks"] if c["code"] == "MD506")
    assert check["status"] == "not-run"
    assert "ExternalName" in check["reason"]
    assert result.exit_code == 0  # not-run does not make the run incomplete


@pytest.mark.parametrize("mode", MODES)
def test_selectorless_service_judged_by_its_manual_endpoints(mode, live):
    healthy = report(mode, live, "workloads/manual-endpoints", "db", "bookinfo")
    assert findings(healthy.json(), "MD506") == []
    broken = report(mode, live, "workloads/manual-endpoints", "cache", "bookinfo")
    [finding] = findings(broken.json(), "MD506")
    assert "has no selector" in finding["message"]


def test_garbage_in_specs_gives_findings_or_skips_never_a_crash():
    result = run_cli("host", "reviews", "-n", "bookinfo", *offline(*scenario_files("workloads/garbage")), "-o", "json")
    doc = result.json()
    assert result.exit_code in (0, 1, 4)
    assert {c["status"] for c in doc["checks"]} <= {"passed", "failed", "skipped", "not-run"}
    assert not any("internal error" in c.get("reason", "") for c in doc["checks"])
    # the one address that is readable is not ready, so the Service has no ready endpoint
    assert findings(doc, "MD506")[0]["evidence"]["notReadyEndpoints"] == ["10.0.0.9"]


def test_demo_world_reports_reviews_broken():
    from tests.conftest import EXAMPLES

    result = run_cli("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"), "-o", "json")
    assert result.exit_code == 1
    assert {"MD502", "MD506"} <= {f["code"] for f in result.json()["findings"]}
