"""Gateway API route status on a real API server: written through the status subresource (as istiod
writes it), read back with the routes, and quoted by MD450 as the controller's own verdict."""

from __future__ import annotations

from tests.conftest import SCENARIOS, objects_of, run_cli
from tests.worlds import world_files


def test_the_controllers_rejection_in_status_is_read_live_and_quoted(real):
    real.load_world(objects_of(world_files(SCENARIOS / "gatewayapi" / "route-not-accepted-status.yaml")))
    status, route = real.request("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/bookinfo/httproutes/bookinfo")
    assert status == 200 and route["status"]["parents"][0]["conditions"][0]["status"] == "False"
    result = run_cli("host", "bookinfo.example.com", "-n", "bookinfo", "-o", "json",
                     "--kubeconfig", str(real.kubeconfig("plugin")))
    [finding] = [f for f in result.json()["findings"] if f["code"] == "MD450"]
    assert finding["evidence"]["from"] == "status"
    assert "istio.io/gateway-controller says Accepted=False (NotAllowedByListeners" in finding["message"]


def test_a_status_that_accepts_the_route_agrees_with_the_model_live(real):
    real.load_world(objects_of(world_files(SCENARIOS / "gatewayapi" / "route-accepted.yaml")))
    result = run_cli("host", "bookinfo.example.com", "-n", "bookinfo", "-o", "json",
                     "--kubeconfig", str(real.kubeconfig("plugin")))
    doc = result.json()
    assert [f["code"] for f in doc["findings"] if f["code"].startswith("MD45")] == []
    assert {c["code"]: c["status"] for c in doc["checks"] if c["code"].startswith("MD45")} == dict.fromkeys(
        ("MD450", "MD451", "MD452", "MD453"), "passed")
