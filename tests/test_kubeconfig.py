"""Kubeconfig resolution as kubectl does it (ECOSYSTEM.md §2.3), checked against a live fake server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from tests.conftest import objects_of, run_cli, scenario_files, write_kubeconfig

DEAD = "http://127.0.0.1:9"  # discard port: nothing answers there


def world(live):
    return live(objects_of(scenario_files("workloads/ready")))


def test_first_kubeconfig_file_with_current_context_wins(live, tmp_path: Path):
    cluster = world(live)
    first = write_kubeconfig(tmp_path / "a", cluster.api.url, "admin", context="ctx-a", namespace="bookinfo")
    second = write_kubeconfig(tmp_path / "b", DEAD, "admin", context="ctx-b")
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {"KUBECONFIG": os.pathsep.join([str(empty), str(first), str(second)])}
    result = run_cli("host", "reviews", "-o", "json", env=env)  # namespace from ctx-a, server from ctx-a
    assert result.exit_code == 0, result.stderr
    assert result.json()["source"]["context"] == "ctx-a"


def test_context_flag_and_unknown_context(live, tmp_path: Path):
    cluster = world(live)
    cfg = tmp_path / "two"
    cfg.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "broken",
        "clusters": [{"name": "good", "cluster": {"server": cluster.api.url}},
                     {"name": "bad", "cluster": {"server": DEAD}}],
        "users": [{"name": "u", "user": {"token": "admin"}}],
        "contexts": [{"name": "broken", "context": {"cluster": "bad", "user": "u"}},
                     {"name": "ok", "context": {"cluster": "good", "user": "u", "namespace": "bookinfo"}}]}))
    assert run_cli("host", "reviews", "--kubeconfig", str(cfg), "--context", "ok").exit_code == 0
    assert run_cli("host", "reviews", "-n", "bookinfo", "--kubeconfig", str(cfg), "--cluster", "good").exit_code == 0
    missing = run_cli("host", "reviews", "--kubeconfig", str(cfg), "--context", "nope")
    assert missing.exit_code == 3 and "context 'nope' not found" in missing.stderr


def test_server_and_token_flags_override_the_kubeconfig(live, tmp_path: Path):
    cluster = world(live)
    cfg = write_kubeconfig(tmp_path / "k", DEAD, "wrong-token")
    result = run_cli("host", "reviews", "-n", "bookinfo", "--kubeconfig", str(cfg),
                     "-s", cluster.api.url, "--token", "admin")
    assert result.exit_code == 0, result.stderr


def test_no_kubeconfig_and_not_in_a_pod(tmp_path: Path):
    result = run_cli("host", "reviews", env={"KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)})
    assert result.exit_code == 3
    assert "no kubeconfig found" in result.stderr and "--offline" in result.stderr


def test_the_kubeconfig_is_never_rewritten(live, tmp_path: Path):
    cluster = world(live)
    cfg = write_kubeconfig(tmp_path / "k", cluster.api.url, "admin", namespace="bookinfo")
    before = hashlib.sha256(cfg.read_bytes()).hexdigest()
    run_cli("host", "reviews", "--kubeconfig", str(cfg))
    assert hashlib.sha256(cfg.read_bytes()).hexdigest() == before
