"""Bad input and unusable clusters: one line on stderr, the exit code FINDINGS.md documents, no traceback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from kubectl_meshdoctor.checks.context import probed
from kubectl_meshdoctor.checks.proxyconfig import has_proxy_configs
from kubectl_meshdoctor.checks.registry import CHECKS
from tests.conftest import (
    EXAMPLES,
    SCENARIOS,
    objects_of,
    offline,
    run_cli,
    scenario_files,
    silent_server,
    write_kubeconfig,
)
from tests.fakeapi.server import Access


def one_line_error(result) -> str:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# ------------------------------------------------------------------------------------------ exit 2

def test_unknown_host_suggests_the_same_name_in_another_namespace(live):
    result = live(objects_of([EXAMPLES / "bookinfo"])).run("host", "reviews", "-n", "default")
    assert result.exit_code == 2
    assert "did you mean reviews.bookinfo?" in one_line_error(result)


def test_misspelt_host_suggests_close_names():
    result = run_cli("host", "reveiws", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"))
    assert result.exit_code == 2
    assert "reviews.bookinfo" in one_line_error(result)


def test_unknown_host_without_any_close_match():
    result = run_cli("host", "zzzzzz", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"))
    assert result.exit_code == 2
    assert "did you mean" not in one_line_error(result)


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: {a: b\n---\n", ":6: invalid YAML"),
    ("world.json", '{\n  "apiVersion": "v1",\n  "kind": "List",\n  "items": [,]\n}\n', ":4: invalid JSON"),
    ("nokind.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n",
     ":5: document has no kind"),
    ("noname.yaml", "apiVersion: v1\nkind: Service\nspec: {}\n", ":1: Service has no metadata.name"),
    ("scalar.yaml", "just a string\n", ":1: expected a Kubernetes object"),
])
def test_unreadable_input_names_file_and_line(tmp_path: Path, name: str, content: str, expected: str):
    bad = tmp_path / name
    bad.write_text(content)
    result = run_cli("host", "x", *offline(bad))
    assert result.exit_code == 2
    assert f"{bad}{expected}" in one_line_error(result)


def test_missing_file_and_binary_file(tmp_path: Path):
    assert run_cli("host", "x", *offline(tmp_path / "nope.yaml")).exit_code == 2
    binary = tmp_path / "blob.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    result = run_cli("host", "x", *offline(binary))
    assert result.exit_code == 2
    assert "not a text file" in one_line_error(result)


@pytest.mark.parametrize("args", [("-o", "xml"), ("-o", "jsonpath"), ("--fail-on", "sometimes"),
                                  ("--request-timeout", "soon")])
def test_bad_flag_values_are_usage_errors(args):
    result = run_cli("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"), *args)
    assert result.exit_code == 2
    one_line_error(result)


def test_offline_without_files_is_a_usage_error():
    result = run_cli("host", "reviews", "--offline")
    assert result.exit_code == 2
    assert "-f" in one_line_error(result)


# ------------------------------------------------------------------------------------------ exit 3

def test_connection_refused_is_exit_3(tmp_path: Path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_kubeconfig(tmp_path / "k", f"http://127.0.0.1:{port}", "t")
    result = run_cli("host", "reviews", "--kubeconfig", str(cfg), "--request-timeout", "2s")
    assert result.exit_code == 3
    assert "connection refused" in one_line_error(result)


def test_server_that_never_answers_times_out_within_the_request_timeout(tmp_path: Path):
    """Not a speed test: it proves --request-timeout is honoured instead of hanging for ever."""
    with silent_server() as (host, port):
        cfg = write_kubeconfig(tmp_path / "k", f"http://{host}:{port}", "t")
        started = time.monotonic()
        result = run_cli("host", "reviews", "--kubeconfig", str(cfg), "--request-timeout", "2s")
        elapsed = time.monotonic() - started
    assert result.exit_code == 3
    assert "timed out" in one_line_error(result)
    assert elapsed < 6, f"took {elapsed:.1f}s with --request-timeout 2s"


def test_rejected_token_is_exit_3_unauthorized(live):
    cluster = live(objects_of(scenario_files("workloads/ready")))
    result = cluster.run("host", "reviews", "-n", "bookinfo", token="expired-token")
    assert result.exit_code == 3
    assert "unauthorized" in one_line_error(result)


@pytest.mark.parametrize("command", [
    ("host", "reviews", "-n", "bookinfo"),
    ("scan", "-n", "bookinfo"),
    ("plan", "-n", "bookinfo", "-f", str(SCENARIOS / "plan" / "add-v3.yaml")),
], ids=lambda c: c[0])
def test_user_with_no_rights_at_all_is_exit_3(live, command):
    """Every command that reads the cluster, not only `host`: a report of skips would read as a clean bill."""
    cluster = live(objects_of(scenario_files("workloads/ready")),
                   tokens={"nobody": Access("nobody", frozenset())})
    result = cluster.run(*command, token="nobody")
    assert result.exit_code == 3
    assert "forbidden" in one_line_error(result)


def test_failing_exec_credential_plugin_is_exit_3(tmp_path: Path, live):
    cluster = live(objects_of(scenario_files("workloads/ready")))
    cfg = tmp_path / "exec-kubeconfig"
    cfg.write_text(f"""apiVersion: v1
kind: Config
current-context: c
clusters: [{{name: k, cluster: {{server: "{cluster.api.url}"}}}}]
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
users:
- name: u
  user:
    exec: {{apiVersion: client.authentication.k8s.io/v1beta1, command: /bin/false, interactiveMode: Never}}
""")
    result = run_cli("host", "reviews", "-n", "bookinfo", "--kubeconfig", str(cfg))
    assert result.exit_code == 3
    assert "authentication plugin" in one_line_error(result)
    assert cluster.cluster.requests == []  # it stopped before sending anonymous requests


# ------------------------------------------------------------------------------------------ exit 4

def test_forbidden_pods_skip_the_checks_that_need_them(live):
    reader = Access("oncall", frozenset({(p, None) for p in (
        "services", "endpoints", "namespaces", "deployments", "configmaps", "virtualservices",
        "destinationrules", "gateways", "serviceentries", "sidecars", "peerauthentications", "httproutes",
        "grpcroutes", "tcproutes", "tlsroutes", "referencegrants")}))
    cluster = live(objects_of(scenario_files("workloads/ready")), tokens={"oncall": reader})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", token="oncall")
    doc = result.json()
    md502 = next(c for c in doc["checks"] if c["code"] == "MD502")
    assert md502 == {"id": "pod-without-sidecar", "code": "MD502", "status": "skipped",
                     "reason": "forbidden: list pods in bookinfo (app=reviews)"}
    assert next(c for c in doc["checks"] if c["code"] == "MD506")["status"] == "passed"
    needing_pods = {c.code for c in CHECKS if {"pods", "gatewaypods"} & c.collections
                    and c.code != "MD404"  # not-run here: no gateway routes to reviews
                    and c.applies is not probed  # not-run without --probe
                    and c.applies is not has_proxy_configs}  # not-run without a proxy's configuration
    needing_pods.add("MD603")  # reads pods only when there are receiving proxies to judge, as here
    assert "MD502" in needing_pods
    assert {c["code"] for c in doc["checks"] if c["status"] == "skipped"} == needing_pods
    assert {c["reason"] for c in doc["checks"] if c["status"] == "skipped"} == {
        "forbidden: list pods in bookinfo (app=reviews)"}
    assert result.exit_code == 4


def test_namespace_scoped_rights_are_used_and_the_report_says_the_view_is_partial(live):
    """Common RBAC for on-call: read access in the team's namespace only."""
    in_bookinfo = Access("team", frozenset((p, "bookinfo") for p in (
        "services", "endpoints", "pods", "virtualservices", "destinationrules", "gateways", "serviceentries",
        "peerauthentications", "configmaps", "deployments")))
    cluster = live(objects_of(scenario_files("workloads/not-ready")), tokens={"team": in_bookinfo})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", token="team")
    doc = result.json()
    assert [f["code"] for f in doc["findings"]] == ["MD506"]
    assert any("services: forbidden in all namespaces; read only in bookinfo" in n for n in doc["notes"])
    assert result.exit_code == 1


def test_cluster_without_istio_skips_mesh_checks(live):
    cluster = live(objects_of(scenario_files("workloads/ready")), istio_groups={})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    doc = result.json()
    md502 = next(c for c in doc["checks"] if c["code"] == "MD502")
    assert md502["status"] == "skipped" and "Istio is not installed" in md502["reason"]
    assert next(c for c in doc["checks"] if c["code"] == "MD506")["status"] == "passed"
    assert result.exit_code == 4


def test_a_failing_collection_is_a_skip_not_an_all_clear(live):
    cluster = live(objects_of(scenario_files("workloads/ready")), failures={"endpoints": 500})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    md506 = next(c for c in result.json()["checks"] if c["code"] == "MD506")
    assert md506["status"] == "skipped" and md506["reason"].startswith("error: list endpoints in bookinfo")
    assert result.exit_code == 4


# ------------------------------------------------------------------------------------- hostile files

def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path):
    big = tmp_path / "dump.yaml"
    with big.open("wb") as f:  # sparse: 200 MB on paper, nothing on disk
        f.truncate(200 << 20)
    result = run_cli("host", "x", *offline(big))
    assert result.exit_code == 2
    assert "200 MiB is more than meshdoctor reads from one YAML file (64 MiB)" in one_line_error(result)
    huge = tmp_path / "dump.json"
    with huge.open("wb") as f:
        f.truncate(600 << 20)
    result = run_cli("host", "x", *offline(huge))
    assert result.exit_code == 2
    assert "600 MiB is more than meshdoctor reads from one JSON file (512 MiB)" in one_line_error(result)


def test_a_json_snapshot_larger_than_the_yaml_limit_reads_back(tmp_path: Path):
    """`snapshot -A -o json` of a large cluster is bigger than the YAML limit (240 MiB at 50,000 pods):
    `--offline -f` reads it back. (Padded here: what matters is the size.)"""
    import json

    import yaml

    from kubectl_meshdoctor.snapshot.files import MAX_FILE_BYTES

    objects = yaml.safe_load_all((SCENARIOS / "tls" / "ground.yaml").read_text())
    items = [o for o in objects if o]
    items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "padding", "namespace": "default"},
                  "data": {"blob": "x" * (MAX_FILE_BYTES + (1 << 20))}})
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    assert snapshot.stat().st_size > MAX_FILE_BYTES
    result = run_cli("host", "httpbin", "-n", "default", "-o", "json", *offline(snapshot))
    assert result.exit_code in (0, 1) and result.json()["target"]["host"] == "httpbin.default.svc.cluster.local"


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n" +
                    "\n".join("  " + line for line in lines) + "\n")
    result = run_cli("host", "x", *offline(bomb))
    assert result.exit_code == 2
    assert f"{bomb}:1: YAML aliases expand the document by more than" in one_line_error(result)


def test_a_directory_with_a_symlink_loop_is_read_once(tmp_path: Path):
    world = tmp_path / "world"
    world.mkdir()
    (world / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: default}\n"
                                    "spec: {selector: {app: x}}\n")
    (world / "loop").symlink_to(world, target_is_directory=True)
    result = run_cli("host", "x", *offline(world), "-o", "json")
    assert result.exit_code in (0, 4) and result.json()["target"]["host"] == "x.default.svc.cluster.local"


def test_a_suppress_rule_that_names_no_check_is_a_usage_error():
    result = run_cli("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"), "--suppress", "MD999")
    assert result.exit_code == 2
    assert "'MD999' names no check" in one_line_error(result)
    globbed = run_cli("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"), "--suppress", "MD5*",
                      "--suppress", "vs-mesh-duplicate-host", "-o", "json")
    assert globbed.exit_code == 0  # globs and ids that name checks are accepted, and silence what they name
    assert sorted(f["code"] for f in globbed.json()["suppressed"]) == ["MD101", "MD502", "MD506"]


def test_an_internal_error_has_its_own_exit_code(monkeypatch):
    """A bug is not a finding: exit 5 and one line, so CI can tell a crash from a broken mesh. The bug is
    planted in our own use case (never in the kubernetes client)."""
    from kubectl_meshdoctor.run import info

    def broken() -> None:
        raise KeyError("planted")

    monkeypatch.setattr(info, "version", broken)
    result = run_cli("version")
    assert result.exit_code == 5, result.stderr
    assert one_line_error(result).startswith("error: internal error: KeyError")
