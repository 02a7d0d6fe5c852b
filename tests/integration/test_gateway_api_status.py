"""Gateway API route status on a real API server: written through the status subresource (as istiod
writes it), read back with the routes, and quoted by MD450 as the controller's own verdict."""

from __future__ import annotations

import time

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


def test_two_routes_with_one_match_the_older_wins_on_a_real_server(real):
    """The API server stamps creationTimestamp itself (to the second): the newer route is created a
    second after the older, as a team adding a canary route later would."""
    objects = objects_of(world_files(SCENARIOS / "gatewayapi" / "conflict.yaml"))
    newer = next(o for o in objects if o["metadata"]["name"] == "bookinfo-new")
    real.load_world([o for o in objects if o is not newer])
    time.sleep(1.1)
    real.create({**newer, "metadata": {k: v for k, v in newer["metadata"].items() if k != "creationTimestamp"}})
    result = run_cli("host", "bookinfo.example.com", "-n", "bookinfo", "-o", "json",
                     "--kubeconfig", str(real.kubeconfig("plugin")))
    [finding] = [f for f in result.json()["findings"] if f["code"] == "MD453"]
    assert finding["evidence"]["inEffect"] == "HTTPRoute bookinfo/bookinfo-old rule #1"
    assert finding["evidence"]["neverMatch"] == ["HTTPRoute bookinfo/bookinfo-new rule #1"]
