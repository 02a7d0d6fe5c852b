"""Completion through kubectl (1.26+ runs `kubectl_complete-meshdoctor`) and the completer itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, objects_of

COMPLETER = Path(sys.executable).parent / "kubectl_complete-meshdoctor"
pytestmark = pytest.mark.skipif(not COMPLETER.exists(), reason="the package is not installed in this interpreter")


def complete(*words: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run([str(COMPLETER), *words], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}, timeout=60)
    assert out.stderr == ""
    return out.stdout.splitlines()


def test_subcommands_flags_and_codes():
    assert complete("ho") == ["host", ":4"]
    assert "--no-color" in complete("host", "--no")
    assert complete("explain", "md50")[:3] == ["MD501", "MD502", "MD503"]
    assert complete("host", "-f", "") == [":0"]  # files


def test_host_names_come_from_the_cluster(live, tmp_path):
    cluster = live(objects_of([EXAMPLES / "bookinfo"]))
    kubeconfig = cluster.kubeconfig_for("admin", namespace="bookinfo")
    names = complete("host", "re", env={"KUBECONFIG": str(kubeconfig)})
    assert names == ["reviews", "reviews.bookinfo", ":4"]
    assert complete("host", "-n", "is", env={"KUBECONFIG": str(kubeconfig)}) == ["istio-system", ":4"]


def test_outputs_contexts_gateway_hosts_and_no_host_after_a_switch(live, tmp_path):
    cluster = live(objects_of([EXAMPLES / "bookinfo"]))
    kubeconfig = cluster.kubeconfig_for("admin", namespace="bookinfo")
    env = {"KUBECONFIG": str(kubeconfig)}
    assert complete("host", "reviews", "-o", "j", env=env) == ["json", "junit", "jsonpath=", ":4"]
    assert complete("host", "--context", "", env=env)[:-1] == ["fake"]
    assert "bookinfo.example.com" in complete("host", "book", env=env)  # a host the bookinfo Gateway serves
    assert complete("host", "--no-color", "reviews", "", env=env) == [":4"]  # the host is already given
    assert "reviews" in complete("host", "--no-color", "re", env=env)


def test_no_cluster_completes_nothing_and_says_nothing(tmp_path):
    assert complete("host", "re", env={"KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}) == [":4"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
def test_kubectl_runs_the_completer(live):
    cluster = live(objects_of([EXAMPLES / "bookinfo"]))
    env = {**os.environ, "PATH": f"{COMPLETER.parent}{os.pathsep}{os.environ['PATH']}",
           "KUBECONFIG": str(cluster.kubeconfig_for("admin", namespace="bookinfo"))}
    out = subprocess.run(["kubectl", "__complete", "meshdoctor", "host", "rat"], capture_output=True, text=True,
                         env=env, timeout=60, check=False)
    assert "ratings" in out.stdout.splitlines()


def test_typer_shell_completion_completes_hosts_from_the_cluster(live):
    cluster = live(objects_of([EXAMPLES / "bookinfo"]))
    env = {**os.environ, "_KUBECTL_MESHDOCTOR_COMPLETE": "complete_bash", "COMP_CWORD": "2",
           "COMP_WORDS": "kubectl-meshdoctor host rat",
           "KUBECONFIG": str(cluster.kubeconfig_for("admin", namespace="bookinfo"))}
    script = Path(sys.executable).parent / "kubectl-meshdoctor"
    out = subprocess.run([str(script)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert "ratings" in out.stdout.split()


def test_typer_completion_script_uses_the_executable_name():
    script = Path(sys.executable).parent / "kubectl-meshdoctor"
    # typer finds the shell by walking up the process tree (shellingham), as when a user types this in
    # bash; a shell that runs it and then `true` stays its parent (a lone command would be exec'd)
    out = subprocess.run(["bash", "-c", f"'{script}' --show-completion; true"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert "_KUBECTL_MESHDOCTOR_COMPLETE=complete_bash" in out.stdout
