"""Errors a user can act on, each tied to one exit code of FINDINGS.md.

Everything the CLI prints for a failure comes from here as one line, so the mapping between a
problem and its exit code lives in a single place.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    CLUSTER = 3
    INCOMPLETE = 4
    INTERNAL = 5  # a bug in meshdoctor: not a finding, so CI can tell a crash from a broken mesh


EXIT_CODES_HELP = ("Exit codes: 0 nothing at or above --fail-on and every check ran; 1 findings at or above "
                   "--fail-on; 2 usage or input error (unknown host, bad file); 3 cannot reach or authenticate "
                   "to the cluster; 4 no failing finding but some checks were skipped or saw only part of their "
                   "data; 5 internal error (run again with --debug).")


class MeshdoctorError(Exception):
    """Base class: `message` is the one line shown to the user."""

    exit_code: ExitCode = ExitCode.FINDINGS

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(MeshdoctorError):
    exit_code = ExitCode.USAGE


class HostNotFound(UsageError):
    def __init__(self, host: str, namespace: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"host {host!r} not found (looked for a Service in namespace {namespace!r}, "
                         f"gateway and ServiceEntry hosts, and hosts routed to by VirtualServices){hint}")
        self.suggestions = suggestions


class InputFileError(UsageError):
    """An -f file that cannot be read or parsed; the message names the file and line."""


class ClusterError(MeshdoctorError):
    exit_code = ExitCode.CLUSTER


class ClusterUnreachable(ClusterError):
    pass


class AuthenticationFailed(ClusterError):
    pass


class KubeconfigError(ClusterError):
    pass
