"""The flags: kubectl's own (as a kubectl user types them after the plugin name), and the plugin's.

kubectl passes its global flags through after the plugin name (`kubectl meshdoctor host x -n ns
--context c`), and typer refuses group options after a subcommand, so every command carries the
kube flags itself: `kube_command` adds them from one list and turns our errors into one line on
stderr and their exit code.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from kubectl_meshdoctor.errors import ExitCode, MeshdoctorError
from kubectl_meshdoctor.run.complete import complete_host

try:  # typer >= 0.26 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_exceptions


def _kube(*names: str, help: str, **kw: Any) -> Any:
    return typer.Option(*names, help=help, rich_help_panel="Kubernetes (as kubectl)", **kw)


# name, type, default, option: the flags kubectl users type after the plugin name.
KUBE_FLAGS: tuple[tuple[str, Any, Any, Any], ...] = (
    ("namespace", str | None, None, _kube("-n", "--namespace", help="Namespace of the host (default: the context's "
                                                                    "namespace, else default).")),
    ("kubeconfig", str | None, None, _kube("--kubeconfig", help="Path to one kubeconfig file (no merge).")),
    ("context", str | None, None, _kube("--context", help="The kubeconfig context to use.")),
    ("cluster", str | None, None, _kube("--cluster", help="The kubeconfig cluster to use.")),
    ("user", str | None, None, _kube("--user", help="The kubeconfig user to use.")),
    ("as_user", str | None, None, _kube("--as", help="Username to impersonate.")),
    ("as_group", list[str] | None, None, _kube("--as-group", help="Group to impersonate.")),
    ("token", str | None, None, _kube("--token", help="Bearer token for the API server.")),
    ("server", str | None, None, _kube("-s", "--server", help="Address of the API server.")),
    ("insecure_skip_tls_verify", bool, False, _kube("--insecure-skip-tls-verify", help="Do not verify the server "
                                                                                       "certificate.")),
    ("certificate_authority", str | None, None, _kube("--certificate-authority", help="CA certificate file.")),
    ("request_timeout", str | None, None, _kube("--request-timeout", help="Time to wait for one request, e.g. 2s, "
                                                "1m; 0 = no timeout (default: 5s to connect, 30s to read).")),
    ("debug", bool, False, _kube("--debug", help="Show tracebacks and client logs on stderr.")),
)


def kube_command(fn: Callable[..., Any]) -> Callable[..., None]:
    """Adds the kube flags (as a `kube` argument); the command returns its exit code."""
    sig = inspect.signature(fn, eval_str=True)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=Annotated[typ, opt]) for name, typ, default, opt in KUBE_FLAGS]
    params = [p for p in sig.parameters.values() if p.name != "kube"] + extra

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions

        flags = {name: kwargs.pop(name) for name, *_ in KUBE_FLAGS}
        if flags["debug"]:
            logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        with _errors_to_exit(debug=flags["debug"]):
            code = fn(kube=KubeOptions.from_flags(flags), **kwargs)
        raise typer.Exit(int(code or 0))

    wrapper.__signature__ = sig.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


@contextmanager
def _errors_to_exit(debug: bool) -> Iterator[None]:
    try:
        yield
    except (typer.Exit, click_exceptions.ClickException):
        raise
    except MeshdoctorError as exc:
        if debug:
            raise
        _fail(exc.message, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        if debug:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for details)", ExitCode.INTERNAL)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(int(code))


LIVE = "Live evidence (ignored with --offline)"
Output = Annotated[str, typer.Option("-o", "--output", help="text | json | yaml | markdown | junit | "
                                                            "jsonpath=TEMPLATE (what the command prints)")]
NoColor = Annotated[bool, typer.Option("--no-color", help="No colour (also when NO_COLOR is set).")]
Verbose = Annotated[bool, typer.Option("--verbose", help="List every check, not only the problems.")]
Files = Annotated[list[str] | None, typer.Option(
    "-f", "--filename", help="YAML/JSON file, directory or - (stdin), repeatable: laid over the live state "
                             "(what-if), or the whole world with --offline.")]
Offline = Annotated[bool, typer.Option("--offline", help="Use only the -f files; no cluster.")]
ConfigDump = Annotated[list[str] | None, typer.Option(
    "--config-dump", help="[NAMESPACE/POD=]FILE: a proxy's saved Envoy config_dump (repeatable), compared with what "
                          "the model predicts for it (the pod is read from the dump's bootstrap when not given).")]
Base = Annotated[list[str] | None, typer.Option(
    "--base", help="With --offline: the files of the world the -f change lands on (repeatable).")]
Recursive = Annotated[bool, typer.Option("-R", "--recursive", help="Read -f directories with their "
                                                                   "subdirectories (as kubectl -R).")]
FailOnOpt = Annotated[str, typer.Option("--fail-on", help="error | warning | info | none: the lowest severity that "
                                                          "makes the exit code 1.")]
Domain = Annotated[str, typer.Option("--cluster-domain", help="The cluster's DNS domain.")]
Suppress = Annotated[list[str] | None, typer.Option(
    "--suppress", help="CODE_OR_ID[=Kind/namespace/name], globs, repeatable: a known exception, listed but not "
                       "counted in the exit code (objects can also carry the meshdoctor.io/suppress annotation).")]
NoLogs = Annotated[bool, typer.Option("--no-logs", help="Do not read the istio-proxy logs.", rich_help_panel=LIVE)]
Since = Annotated[str, typer.Option("--since", help="How far back to read proxy logs (5m, 1h).", rich_help_panel=LIVE)]
LogBytes = Annotated[int, typer.Option("--log-bytes", help="At most this many bytes of log per pod.",
                                       rich_help_panel=LIVE, min=1024)]
Probe = Annotated[bool, typer.Option("--probe", help="Active probes through port-forwards (exec as fallback), "
                                                     "read-only GETs: the app's HTTP version (GET / on one pod per "
                                                     "port), istiod's /debug/syncz, and a few proxies' configuration "
                                                     "(Envoy admin and istiod) compared with the model. Never on by "
                                                     "default.", rich_help_panel=LIVE)]
ClientNs = Annotated[list[str] | None, typer.Option(
    "--client-namespace", help="Namespace whose pods call the host, repeatable (default: -n, the host's, and those "
                               "whose VirtualServices/DestinationRules mention it).", rich_help_panel=LIVE)]
Host = Annotated[str, typer.Argument(help="reviews, reviews.bookinfo, reviews.bookinfo.svc.cluster.local, or an "
                                          "external host such as myapp.com", autocompletion=complete_host)]
AllNamespaces = Annotated[bool, typer.Option("-A", "--all-namespaces", help="Every namespace.")]
IncludeSystem = Annotated[bool, typer.Option("--include-system", help="Also scan kube-system, kube-public and the "
                                             "control plane's own Services.")]
