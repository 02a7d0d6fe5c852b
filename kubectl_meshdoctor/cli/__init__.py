"""`kubectl meshdoctor`: argument parsing and wiring to the use cases in run/. No diagnosis logic here."""

import os
import sys

import typer

from kubectl_meshdoctor.cli.argv import kubectl_argv
from kubectl_meshdoctor.cli.commands import register
from kubectl_meshdoctor.cli.flags import KUBE_FLAGS, click_exceptions
from kubectl_meshdoctor.errors import EXIT_CODES_HELP, ExitCode

PROG = "kubectl meshdoctor"

app = typer.Typer(
    name="meshdoctor", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
    rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]},
    help="Why is traffic to this host in the Istio mesh failing, and what do I do about it? "
         "Read-only: never creates, changes or deletes anything. " + EXIT_CODES_HELP,
)
register(app)


def main() -> None:
    """Console entry point: usage errors as one line (exit 2), everything else from the commands.
    Called as `kubectl_complete-meshdoctor` (a symlink to the krew zipapp), it completes instead."""
    if os.path.basename(sys.argv[0]).startswith("kubectl_complete-"):
        complete_main()
        return
    args = kubectl_argv(sys.argv[1:], *command_words())
    if not args:  # `kubectl meshdoctor` alone: the help, as asked for, not an error
        args = ["--help"]
    try:
        # typer's completion scripts are for the `kubectl-meshdoctor` executable (kubectl's own completion
        # goes through kubectl_complete-meshdoctor), so they are generated under that name
        installing = {"--install-completion", "--show-completion"} & set(args)
        code = app(args=args, prog_name="kubectl-meshdoctor" if installing else PROG, standalone_mode=False,
                   complete_var="_KUBECTL_MESHDOCTOR_COMPLETE")
    except click_exceptions.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        sys.stderr.write(f"error: {exc.format_message()}{hint}\n")
        sys.exit(ExitCode.USAGE)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(130)
    except click_exceptions.ClickException as exc:
        sys.stderr.write(f"error: {exc.format_message()}\n")
        sys.exit(exc.exit_code)
    sys.exit(code or 0)


def command_words() -> tuple[set[str], set[str], set[str]]:
    """The subcommands, and the kube flags that take a value and those that do not."""
    commands = {c.name for c in app.registered_commands if c.name} | {
        c.callback.__name__.replace("_", "-") for c in app.registered_commands if c.callback}
    values, switches = set(), set()
    for _, typ, _, opt in KUBE_FLAGS:
        # with Annotated, typer keeps the first spelling where a default would go
        names = [d for d in (opt.default, *opt.param_decls) if isinstance(d, str) and d.startswith("-")]
        (switches if typ is bool else values).update(names)
    return commands, values, switches


def complete_main() -> None:
    """`kubectl_complete-meshdoctor`: what kubectl (1.26+) runs to complete `kubectl meshdoctor ...`."""
    from kubectl_meshdoctor.run.complete import candidates

    found, directive = candidates(sys.argv[1:], app)
    sys.stdout.write("".join(f"{c}\n" for c in found) + directive + "\n")
