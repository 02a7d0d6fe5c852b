"""The README's two commands are what a newcomer runs; CI must run the second one exactly."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv[^\n]+)\n```", (ROOT / "README.md").read_text())


def test_readme_has_a_demo_command_and_a_test_command():
    demo, tests = readme_commands()
    assert "--offline -f examples/bookinfo" in demo
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()
