"""kubectl's flag grammar on top of click's: what a kubectl user types, rewritten before parsing.

kubectl (cobra/pflag) accepts `-n=bookinfo` and `-o=json`, global flags before the plugin's
subcommand (`kubectl meshdoctor -n bookinfo host reviews`), `--version`, and `-v=6` for its own
verbosity. click reads `-n=bookinfo` as the value `=bookinfo` and knows flags only after their
command, so the arguments are put into click's shape first: nothing is guessed, only spellings pflag
accepts are rewritten.
"""

from __future__ import annotations

import re

VERBOSITY = re.compile(r"^(-v|--v)(=(\d+))?$")
DEBUG_LEVEL = 6  # kubectl -v=6 shows the requests: our --debug shows the client's log


def kubectl_argv(args: list[str], commands: set[str], value_flags: set[str], bool_flags: set[str]) -> list[str]:
    """value_flags/bool_flags: the kube flags every command takes (`-n`, `--namespace`, ...)."""
    out: list[str] = []
    debug = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out += args[i:]
            break
        verbosity = VERBOSITY.match(arg)
        if verbosity:
            level = verbosity.group(3)
            if level is None and i + 1 < len(args) and args[i + 1].isdigit():
                level, i = args[i + 1], i + 1
            debug = debug or int(level or 0) >= DEBUG_LEVEL
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and arg[2] == "=":
            out += [arg[:2], arg[3:]]  # -n=bookinfo -> -n bookinfo
        else:
            out.append(arg)
        i += 1
    if debug and "--debug" not in out:
        out.append("--debug")
    return _flags_after_command(out, commands, value_flags, bool_flags)


def _flags_after_command(args: list[str], commands: set[str], value_flags: set[str],
                         bool_flags: set[str]) -> list[str]:
    """Kube flags written before the subcommand go after it; `--version` before any is `version`."""
    leading: list[str] = []
    i = 0
    while i < len(args) and args[i] not in commands:
        flag = args[i].split("=", 1)[0]
        if flag in value_flags:
            takes_next = "=" not in args[i] and i + 1 < len(args)
            leading += args[i:i + 2] if takes_next else [args[i]]
            i += 2 if takes_next else 1
        elif flag in bool_flags:
            leading.append(args[i])
            i += 1
        elif args[i] == "--version":
            return ["version", *args[i + 1:]]
        else:
            return args  # something click will explain (an unknown flag, --help, a typo)
    if i == len(args):
        return args
    command, rest = args[i], args[i + 1:]
    if command == "version":
        rest = [a for a in rest if a != "--client"]  # `kubectl version --client`'s habit; we have no server part
    return [command, *leading, *rest]
