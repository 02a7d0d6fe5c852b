"""kubectl's flag grammar rewritten into click's (cli/argv.py), spelling by spelling."""

from __future__ import annotations

import pytest

from kubectl_meshdoctor.cli import command_words
from kubectl_meshdoctor.cli.argv import kubectl_argv
from tests.conftest import run_cli


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


def test_every_help_example_is_a_command_the_cli_accepts_and_fits_80_columns():
    """The Examples sections are run through kubectl's flag grammar and the command's parser (without
    running it): an example with a flag that does not exist, or a wrong subcommand, fails here."""
    import shlex

    import typer

    from kubectl_meshdoctor.cli import app
    from kubectl_meshdoctor.cli.commands import EXAMPLES as HELP_EXAMPLES

    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    for command, lines in HELP_EXAMPLES.items():
        help_text = run_cli(command, "--help").stdout
        assert "Examples:" in help_text
        for line in lines:
            assert len(line) + 4 <= 80, line  # printed indented by four
            if line.startswith("#"):
                continue
            assert line in help_text
            words = shlex.split(line.split(" > ")[0])
            assert words[:2] == ["kubectl", "meshdoctor"]
            args = kubectl_argv(words[2:], *command_words())
            name = next(a for a in args if a in commands)
            with commands[name].make_context(name, [a for a in args if a != name]) as ctx:
                assert ctx.command.name == name
