"""Installed as a console script on PATH, the plugin is found and run by kubectl itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

SCRIPT = Path(sys.executable).parent / "kubectl-meshdoctor"
KUBECTL = shutil.which("kubectl")

pytestmark = [
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine"),
    pytest.mark.skipif(not SCRIPT.exists(), reason="the package is not installed in this interpreter's bin"),
]


def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_kubectl_finds_and_runs_the_plugin():
    result = kubectl("meshdoctor", "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kubectl-meshdoctor ")


def test_help_reads_as_a_kubectl_plugin():
    result = kubectl("meshdoctor", "host", "--help")
    assert "Usage: kubectl meshdoctor host" in result.stdout


def test_demo_through_kubectl_exits_one_and_passes_the_exit_code():
    result = kubectl("meshdoctor", "host", "reviews", "-n", "bookinfo", "--offline", "-f", str(EXAMPLES / "bookinfo"))
    assert result.returncode == 1
    assert "MD506 service-no-ready-endpoints" in result.stdout


def test_usage_error_is_one_line_and_exit_two():
    result = kubectl("meshdoctor", "host", "reviews", "--no-such-flag")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: ")


# ----------------------------------------------------------------------- kubectl's flag grammar (#22)

def test_kubectl_flag_spellings_work_through_kubectl():
    """pflag accepts `-n=x`, `-o=json`, flags before the subcommand and `--version`; so does the plugin."""
    world = str(EXAMPLES / "bookinfo")
    before = kubectl("meshdoctor", "-n", "bookinfo", "host", "reviews", "--offline", "-f", world, "-o", "json")
    equals = kubectl("meshdoctor", "host", "reviews", "-n=bookinfo", "--offline", f"-f={world}", "-o=json")
    assert before.returncode == equals.returncode == 1, before.stderr + equals.stderr
    assert json.loads(before.stdout)["target"] == json.loads(equals.stdout)["target"] == {
        "input": "reviews", "host": "reviews.bookinfo.svc.cluster.local", "namespace": "bookinfo"}
    version = kubectl("meshdoctor", "--version")
    assert version.returncode == 0 and version.stdout.startswith("kubectl-meshdoctor ")


def test_the_plugin_alone_prints_its_help_and_succeeds():
    result = kubectl("meshdoctor")
    assert result.returncode == 0 and "Usage: kubectl meshdoctor" in result.stdout and result.stderr == ""

