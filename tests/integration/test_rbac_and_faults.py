"""RBAC and faults against a real kube-apiserver: real 403s and 401s, a server that stops answering,
and a certificate the client does not trust."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import SCENARIOS, objects_of, run_cli, scenario_files
from tests.integration.realcluster import make_ca

WORLD = scenario_files("workloads/ready")


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_role_that_cannot_read_endpoints_skips_the_checks_that_need_them(real):
    real.load_world(objects_of(WORLD))
    rules = [{"apiGroups": [""], "resources": ["services", "pods", "namespaces", "configmaps"],
              "verbs": ["get", "list"]},
             {"apiGroups": ["networking.istio.io", "security.istio.io"], "resources": ["*"], "verbs": ["get", "list"]}]
    real.grant("oncall", "oncall-read", rules, ("bookinfo", "istio-system"))
    result = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json", "--no-logs",
                     "--kubeconfig", str(real.kubeconfig("reader", namespace="bookinfo")))
    doc = result.json()
    md506 = next(c for c in doc["checks"] if c["code"] == "MD506")
    assert md506["status"] == "skipped"
    assert md506["reason"].startswith("forbidden: list endpoints in bookinfo")
    md502 = next(c for c in doc["checks"] if c["code"] == "MD502")  # pods were readable, but Services only here:
    assert md502["status"] == "partial" and "in bookinfo, istio-system only" in md502["reason"]  # never a pass
    assert any("read only in bookinfo, istio-system" in n for n in doc["notes"])
    assert result.exit_code == 4


def test_no_rights_at_all_is_one_clear_error(real):
    result = run_cli("host", "reviews", "-n", "bookinfo", "--kubeconfig", str(real.kubeconfig("nobody")))
    assert result.exit_code == 3
    assert one_line(result).startswith("error: forbidden: these credentials cannot list anything")


def test_a_wrong_token_is_unauthorized(real):
    cfg = real.kubeconfig("plugin", name="wrong-token", token="not-a-token")
    result = run_cli("host", "reviews", "-n", "bookinfo", "--kubeconfig", str(cfg))
    assert result.exit_code == 3 and "unauthorized" in one_line(result)


def test_a_wrong_ca_names_the_tls_problem(real, tmp_path):
    other_ca = make_ca(tmp_path, "other-ca")
    cfg = real.kubeconfig("plugin", name="wrong-ca", ca=other_ca)
    result = run_cli("host", "reviews", "-n", "bookinfo", "--kubeconfig", str(cfg))
    assert result.exit_code == 3
    assert "TLS problem" in one_line(result) and "certificate verify failed" in one_line(result)


def test_a_server_that_stops_mid_run_is_exit_3_within_the_request_timeout(real):
    """The plugin runs as a process; once its first request has reached the server (the audit log
    says so), the server is stopped (SIGSTOP): every later request is accepted and never answered."""
    real.load_world(objects_of(WORLD))
    before = real.audit_log.stat().st_size  # read only what comes after: the log is large by now
    plugin = subprocess.Popen([sys.executable, "-m", "kubectl_meshdoctor", "host", "reviews", "-n", "bookinfo",
                               "--request-timeout", "2s", "--kubeconfig", str(real.kubeconfig("plugin"))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 30
    while not real.plugin_requests(after=before) and plugin.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with real.frozen():
        stopped = time.monotonic()
        _, stderr = plugin.communicate(timeout=30)
        elapsed = time.monotonic() - stopped
    assert plugin.returncode == 3, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "timed out" in lines[0] and "Traceback" not in stderr, stderr
    # bounded by the deadlines, not by the server: a round cut off half-way (one request timeout), the proxy
    # logs (one per-pod deadline, read in parallel) and the one /version question that tells a stopped
    # API server from sick kubelets (issue 17); with --request-timeout 2s that is 6 s, plus start-up slack
    assert elapsed < 3 * 2 + 2, f"took {elapsed:.1f}s after the server stopped, with --request-timeout 2s"


def test_the_scenarios_load_through_the_real_api(real):
    """Pods bound and Ready, Endpoints made by the controller-manager from them (not from the files)."""
    real.load_world(objects_of([*WORLD, SCENARIOS / "http10" / "reviews.yaml"]))
    status, endpoints = real.request("GET", "/api/v1/namespaces/bookinfo/endpoints/reviews")
    assert status == 200
    ips = sorted(a["ip"] for s in endpoints["subsets"] for a in s["addresses"])
    assert ips == ["10.0.0.1", "10.0.0.2"]
    status, pod = real.request("GET", "/api/v1/namespaces/bookinfo/pods/reviews-v1-abc12-x1")
    assert pod["spec"]["nodeName"] == "meshdoctor-node" and pod["status"]["podIP"] == "10.0.0.1"
