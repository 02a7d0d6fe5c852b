"""Runs last in the suite: the audit log of the real API server shows only reads by the plugin."""

from __future__ import annotations

from tests.conftest import objects_of, run_cli, scenario_files


def test_every_request_the_plugin_made_was_a_read(real):
    real.load_world(objects_of(scenario_files("workloads/ready")))
    result = run_cli("host", "reviews", "-n", "bookinfo", "--kubeconfig", str(real.kubeconfig("plugin")))
    assert result.exit_code in (0, 1, 4)
    events = real.plugin_requests()
    assert events  # this run's at least (and every run before it in the suite)
    assert "meshdoctor" in {e["user"]["username"] for e in events}
    verbs = {e["verb"] for e in events}
    assert verbs <= {"get", "list", "watch"}, verbs
    assert any(e["verb"] == "list" and "/pods" in e["requestURI"] for e in events)
