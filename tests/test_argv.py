"""kubectl's flag grammar rewritten into click's (cli/argv.py), spelling by spelling."""

from __future__ import annotations

import pytest

from kubectl_meshdoctor.cli import command_words
from kubectl_meshdoctor.cli.argv import kubectl_argv


def rewrite(*args: str) -> list[str]:
    return kubectl_argv(list(args), *command_words())


@pytest.mark.parametrize(("typed", "parsed"), [
    (["host", "r", "-n=bookinfo"], ["host", "r", "-n", "bookinfo"]),
    (["host", "r", "-o=json", "-f=dir"], ["host", "r", "-o", "json", "-f", "dir"]),
    (["-n", "bookinfo", "host", "r"], ["host", "-n", "bookinfo", "r"]),
    (["--context=prod", "-n=x", "scan"], ["scan", "--context=prod", "-n", "x"]),
    (["--insecure-skip-tls-verify", "tls", "r"], ["tls", "--insecure-skip-tls-verify", "r"]),
    (["--version"], ["version"]),
    (["version", "--client"], ["version"]),
    (["-v=6", "host", "r"], ["host", "r", "--debug"]),
    (["host", "r", "-v", "2"], ["host", "r"]),
    (["host", "r", "--verbose"], ["host", "r", "--verbose"]),  # ours: list every check, not kubectl's -v
    (["--bogus", "host"], ["--bogus", "host"]),  # left for click to explain
    (["host", "--", "-n=x"], ["host", "--", "-n=x"]),
])
def test_kubectl_spellings(typed, parsed):
    assert rewrite(*typed) == parsed
