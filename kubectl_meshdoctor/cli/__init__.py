"""`kubectl meshdoctor`: commands and flags, wired to the core. No diagnosis logic lives here.

kubectl passes its global flags through after the plugin name (`kubectl meshdoctor host x -n ns
--context c`), and typer refuses group options after a subcommand, so every command carries the
kube flags itself; `kube_command` adds them from one list. Heavy imports (kubernetes, rich, yaml)
happen inside the commands, so `version` stays instant.
"""

import dataclasses
import functools
import inspect
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from kubectl_meshdoctor import __version__
from kubectl_meshdoctor.durations import go_duration_seconds
from kubectl_meshdoctor.errors import ExitCode, MeshdoctorError, UsageError

try:  # typer >= 0.26 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_exceptions

PROG = "kubectl meshdoctor"
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) when --request-timeout is not given
EXIT_CODES_HELP = ("Exit codes: 0 nothing at or above --fail-on and every check ran; 1 findings at or above "
                   "--fail-on (or an internal error); 2 usage or input error (unknown host, bad file); "
                   "3 cannot reach or authenticate to the cluster; 4 no failing finding but some checks "
                   "were skipped.")

app = typer.Typer(
    name="meshdoctor", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
    rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]},
    help="Why is traffic to this host in the Istio mesh failing, and what do I do about it? "
         "Read-only: never creates, changes or deletes anything. " + EXIT_CODES_HELP,
)


def _kube_opt(*names: str, help: str, **kw: Any) -> Any:
    return typer.Option(*names, help=help, rich_help_panel="Kubernetes (as kubectl)", **kw)


# name, type, default, option: the flags kubectl users type after the plugin name.
KUBE_FLAGS: tuple[tuple[str, Any, Any, Any], ...] = (
    ("namespace", str | None, None, _kube_opt("-n", "--namespace", help="Namespace of the host (default: the "
                                                                      "context's namespace, else default).")),
    ("kubeconfig", str | None, None, _kube_opt("--kubeconfig", help="Path to one kubeconfig file (no merge).")),
    ("context", str | None, None, _kube_opt("--context", help="The kubeconfig context to use.")),
    ("cluster", str | None, None, _kube_opt("--cluster", help="The kubeconfig cluster to use.")),
    ("user", str | None, None, _kube_opt("--user", help="The kubeconfig user to use.")),
    ("as_user", str | None, None, _kube_opt("--as", help="Username to impersonate.")),
    ("as_group", list[str] | None, None, _kube_opt("--as-group", help="Group to impersonate.")),
    ("token", str | None, None, _kube_opt("--token", help="Bearer token for the API server.")),
    ("server", str | None, None, _kube_opt("-s", "--server", help="Address of the API server.")),
    ("insecure_skip_tls_verify", bool, False,
     _kube_opt("--insecure-skip-tls-verify", help="Do not verify the server certificate.")),
    ("certificate_authority", str | None, None,
     _kube_opt("--certificate-authority", help="CA certificate file for the server.")),
    ("request_timeout", str | None, None,
     _kube_opt("--request-timeout", help="Time to wait for one request, e.g. 2s, 1m; 0 = no timeout "
                                         "(default: 5s to connect, 30s to read).")),
    ("debug", bool, False, _kube_opt("--debug", help="Show tracebacks and client logs on stderr.")),
)

OutputOpt = Annotated[str, typer.Option("-o", "--output",
                                        help="text | json | yaml | markdown | junit | jsonpath=TEMPLATE")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (also when NO_COLOR is set).")]


def parse_duration(text: str | None) -> float | tuple[float, float] | None:
    """kubectl's --request-timeout: '0' means no timeout; '2s', '1m30s', '500ms'; a bare number is seconds."""
    if text is None:
        return DEFAULT_TIMEOUT
    value = text.strip()
    seconds = float(value) if re.fullmatch(r"\d+(\.\d+)?", value) else go_duration_seconds(value)
    if seconds is None:
        raise UsageError(f"invalid --request-timeout {text!r}: use e.g. 2s, 1m, 0 (no timeout)")
    return None if seconds == 0 else seconds


def _kube_options(values: dict[str, Any]) -> Any:
    from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions

    return KubeOptions(
        namespace=values["namespace"], kubeconfig=values["kubeconfig"], context=values["context"],
        cluster=values["cluster"], user=values["user"], as_user=values["as_user"],
        as_groups=tuple(values["as_group"] or ()), token=values["token"], server=values["server"],
        insecure_skip_tls_verify=values["insecure_skip_tls_verify"],
        certificate_authority=values["certificate_authority"],
        request_timeout=parse_duration(values["request_timeout"]))


def kube_command(fn: Callable[..., None]) -> Callable[..., None]:
    """Adds the kube flags to a command (as a `kube` argument) and turns our errors into one line
    on stderr and their exit code."""
    sig = inspect.signature(fn, eval_str=True)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=Annotated[typ, opt]) for name, typ, default, opt in KUBE_FLAGS]
    params = [p for p in sig.parameters.values() if p.name != "kube"] + extra

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        flags = {name: kwargs.pop(name) for name, *_ in KUBE_FLAGS}
        if flags["debug"]:
            logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        with _errors_to_exit(debug=flags["debug"]):
            fn(kube=_kube_options(flags), **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
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
        _fail(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for details)",
              ExitCode.FINDINGS)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(int(code))


@contextmanager
def _spinner(no_color: bool) -> Iterator[Callable[[str], None]]:
    """Progress on stderr, only when stderr is a terminal: stdout carries the report alone."""
    if not sys.stderr.isatty():
        yield lambda _msg: None
        return
    from rich.console import Console

    console = Console(stderr=True, no_color=no_color)
    with console.status("starting") as status:
        yield lambda msg: status.update(msg)


def _output_format(output: str) -> tuple[str, str]:
    fmt, _, template = output.partition("=")
    fmt = fmt.strip().lower()
    if fmt not in ("text", "json", "yaml", "markdown", "md", "jsonpath", "junit"):
        raise UsageError(f"unknown output format {output!r}: use text, json, yaml, markdown, junit or "
                         "jsonpath=TEMPLATE")
    if fmt == "jsonpath" and not template:
        raise UsageError("jsonpath output needs a template: -o jsonpath='{.findings[*].id}'")
    return ("markdown" if fmt == "md" else fmt), template


def _write_junit(reports: list[Any], fmt: str) -> bool:
    if fmt != "junit":
        return False
    from kubectl_meshdoctor.report.junit import to_junit

    sys.stdout.write(to_junit(reports))
    return True


def _write_machine(doc: Any, fmt: str, template: str) -> bool:
    """json/yaml/jsonpath straight to stdout; False when the format is a human one."""
    from kubectl_meshdoctor.report import machine

    if fmt == "json":
        sys.stdout.write(machine.to_json(doc))
    elif fmt == "yaml":
        sys.stdout.write(machine.to_yaml(doc))
    elif fmt == "jsonpath":
        sys.stdout.write(machine.to_jsonpath(doc, template))
    else:
        return False
    return True


FilenameOpt = Annotated[list[str] | None, typer.Option(
    "-f", "--filename", help="YAML/JSON file, directory or - (stdin), repeatable: laid over the live state "
                             "(what-if), or the whole world with --offline.")]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Use only the -f files; no cluster.")]
FailOnOpt = Annotated[str, typer.Option("--fail-on", help="error | warning | info | none: the lowest severity "
                                                          "that makes the exit code 1.")]
DomainOpt = Annotated[str, typer.Option("--cluster-domain", help="The cluster's DNS domain.")]
SuppressOpt = Annotated[list[str] | None, typer.Option(
    "--suppress", help="CODE_OR_ID[=Kind/namespace/name], globs, repeatable: a known exception, listed but not "
                       "counted in the exit code (objects can also carry the meshdoctor.io/suppress annotation).")]
LIVE_PANEL = "Live evidence (ignored with --offline)"
NoLogsOpt = Annotated[bool, typer.Option("--no-logs", help="Do not read the istio-proxy logs.",
                                         rich_help_panel=LIVE_PANEL)]
SinceOpt = Annotated[str, typer.Option("--since", help="How far back to read proxy logs (5m, 1h).",
                                       rich_help_panel=LIVE_PANEL)]
LogBytesOpt = Annotated[int, typer.Option("--log-bytes", help="At most this many bytes of log per pod.",
                                          rich_help_panel=LIVE_PANEL, min=1024)]
ProbeOpt = Annotated[bool, typer.Option("--probe", help="Active probes through port-forwards: the app's HTTP version "
                                                        "(GET / on one pod per port) and istiod's /debug/syncz. "
                                                        "Never on by default.", rich_help_panel=LIVE_PANEL)]
ClientNsOpt = Annotated[list[str] | None, typer.Option(
    "--client-namespace", help="Namespace whose pods call the host, repeatable (default: -n, the host's, and "
                               "those whose VirtualServices/DestinationRules mention it).", rich_help_panel=LIVE_PANEL)]


def _evidence_options(no_logs: bool, since: str, log_bytes: int, probe: bool, client_namespace: list[str] | None):
    from kubectl_meshdoctor.probes.gather import EvidenceOptions

    seconds = go_duration_seconds(since)
    if seconds is None or seconds <= 0:
        raise UsageError(f"--since must be a duration such as 30s, 15m or 2h, not {since!r}")
    return EvidenceOptions(not no_logs, max(1, int(seconds)), since, log_bytes, probe,
                           tuple(client_namespace or ()))


def _complete_host(ctx: Any, incomplete: str) -> list[str]:
    """Host names from the cluster for typer's shell completion (silent and bounded, like kubectl's)."""
    from kubectl_meshdoctor.cli.completion import cluster_names

    words = [w for k, v in (ctx.params or {}).items() if v and k in ("namespace", "kubeconfig", "context")
             for w in (f"--{k}", str(v))]
    return [n for n in cluster_names([*words, incomplete], "services") if n.startswith(incomplete)]


HostArg = Annotated[str, typer.Argument(help="reviews, reviews.bookinfo, reviews.bookinfo.svc.cluster.local, "
                                             "or an external host such as myapp.com",
                                        autocompletion=_complete_host)]


def _diagnose(kube: Any, host: str, filename: list[str] | None, offline: bool, output: str, fail_on: str,
              no_color: bool, cluster_domain: str, families: tuple[str, ...] = (),
              suppress: list[str] | None = None, evidence: Any = None) -> tuple[Any, str, str, bool]:
    from kubectl_meshdoctor.report.verdict import FAIL_ON
    from kubectl_meshdoctor.run.host import HostRequest, diagnose_host

    fmt, template = _output_format(output)
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    if offline and not filename:
        raise UsageError("--offline needs the world to analyse: -f FILE or DIRECTORY")
    no_color = no_color or bool(os.environ.get("NO_COLOR"))
    request = HostRequest(host, tuple(filename or ()), offline, cluster_domain, families, tuple(suppress or ()),
                          *(() if evidence is None else (evidence,)))
    with _spinner(no_color) as progress:
        report = diagnose_host(request, kube, progress)
    return report, fmt, template, no_color


def _finish(report: Any, fail_on: str) -> None:
    from kubectl_meshdoctor.report.verdict import exit_code

    raise typer.Exit(int(exit_code(report, fail_on)))


@app.command(epilog=EXIT_CODES_HELP)
@kube_command
def host(kube: Any, host: HostArg, filename: FilenameOpt = None, offline: OfflineOpt = False,
         output: OutputOpt = "text", fail_on: FailOnOpt = "error", no_color: NoColorOpt = False,
         cluster_domain: DomainOpt = "cluster.local", suppress: SuppressOpt = None, no_logs: NoLogsOpt = False,
         since: SinceOpt = "15m", log_bytes: LogBytesOpt = 512 * 1024, probe: ProbeOpt = False,
         client_namespace: ClientNsOpt = None) -> None:
    """Diagnose traffic to one host: routing, TLS, subsets, ingress, workload, HTTP/1.0 and long-lived TCP
    problems, each with the objects involved and the fix. Live runs also read the proxies' logs."""
    evidence = _evidence_options(no_logs, since, log_bytes, probe, client_namespace)
    report, fmt, template, no_color = _diagnose(kube, host, filename, offline, output, fail_on, no_color,
                                                cluster_domain, suppress=suppress, evidence=evidence)
    if _write_junit([report], fmt):
        _finish(report, fail_on)
    if not _write_machine(report.to_dict(), fmt, template):
        if fmt == "markdown":
            from kubectl_meshdoctor.report.markdown import to_markdown

            sys.stdout.write(to_markdown(report))
        else:
            from kubectl_meshdoctor.report.text import make_console, render_text

            render_text(report, make_console(sys.stdout, no_color))
    _finish(report, fail_on)


@app.command(epilog=EXIT_CODES_HELP)
@kube_command
def tls(kube: Any, host: HostArg, filename: FilenameOpt = None, offline: OfflineOpt = False,
        output: OutputOpt = "text", fail_on: FailOnOpt = "error", no_color: NoColorOpt = False,
        cluster_domain: DomainOpt = "cluster.local") -> None:
    """Client TLS against server mTLS for every client namespace, port and subset of a host (what
    `istioctl authn tls-check` showed, for Istio 1.0 to today), with the conflicts explained."""
    report, fmt, template, no_color = _diagnose(kube, host, filename, offline, output, fail_on, no_color,
                                                cluster_domain, ("tls",))
    report = dataclasses.replace(report, routing=None)  # `host` shows routing; this command is about TLS
    rows = report.tls or []
    if not _write_machine(report.to_dict(), fmt, template):
        from kubectl_meshdoctor.report import tls_table

        if fmt == "markdown":
            from kubectl_meshdoctor.report.markdown import to_markdown

            sys.stdout.write(tls_table.tls_markdown(rows) + "\n" + to_markdown(report))
        else:
            from kubectl_meshdoctor.report.text import make_console, render_text

            console = make_console(sys.stdout, no_color)
            tls_table.render_tls_table(rows, console)
            console.print()
            render_text(report, console)
    _finish(report, fail_on)


@app.command(epilog=EXIT_CODES_HELP)
@kube_command
def plan(kube: Any, filename: FilenameOpt = None,
         base: Annotated[list[str] | None, typer.Option("--base", help="With --offline: the files of the world "
                                                                          "the change lands on.")] = None,
         offline: OfflineOpt = False,
         write_dir: Annotated[str | None, typer.Option("--write-dir", help="Write one file per step here.")] = None,
         output: OutputOpt = "text", fail_on: FailOnOpt = "error", no_color: NoColorOpt = False,
         cluster_domain: DomainOpt = "cluster.local") -> None:
    """The safe order to apply a change of DestinationRules and VirtualServices (make-before-break), and
    what applying it in one go would break. Applies nothing."""
    from kubectl_meshdoctor.report.verdict import FAIL_ON, RANK
    from kubectl_meshdoctor.run.plan import make_plan

    fmt, template = _output_format(output)
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    result = make_plan(list(filename or ()), list(base or ()), offline, kube, write_dir, cluster_domain)
    if not _write_machine(result.to_dict(), fmt, template):
        from kubectl_meshdoctor.report.text import make_console, render_plan

        render_plan(result, make_console(sys.stdout, no_color or bool(os.environ.get("NO_COLOR"))))
    failing = fail_on != "none" and any(RANK[f.level] <= RANK[fail_on] for f in result.findings)
    raise typer.Exit(int(ExitCode.FINDINGS if failing else ExitCode.OK))


AllNamespacesOpt = Annotated[bool, typer.Option("-A", "--all-namespaces", help="Every namespace.")]


@app.command(epilog=EXIT_CODES_HELP)
@kube_command
def scan(kube: Any, all_namespaces: AllNamespacesOpt = False, filename: FilenameOpt = None,
         offline: OfflineOpt = False, output: OutputOpt = "text", fail_on: FailOnOpt = "error",
         no_color: NoColorOpt = False, cluster_domain: DomainOpt = "cluster.local",
         suppress: SuppressOpt = None) -> None:
    """Every host in a namespace (or with -A, the cluster) through the host checks, worst first, from one
    read of the cluster: for when you do not know yet which host is broken."""
    from kubectl_meshdoctor.report.verdict import FAIL_ON, exit_code
    from kubectl_meshdoctor.run.scope import read_scope, worst
    from kubectl_meshdoctor.run.scope import scan as scan_scope

    fmt, template = _output_format(output)
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    if offline and not filename:
        raise UsageError("--offline needs the world to analyse: -f FILE or DIRECTORY")
    with _spinner(no_color) as progress:
        progress("reading the cluster")
        reports = scan_scope(read_scope(kube, all_namespaces, list(filename or ()), offline, cluster_domain),
                             cluster_domain, tuple(suppress or ()))
    rows = [{"host": r.host, "errors": r.count("error"), "warnings": r.count("warning"), "worst": worst(r)}
            for r in reports]
    if not _write_junit(reports, fmt) and not _write_machine(
            {"apiVersion": "meshdoctor/v1", "kind": "ScanReport", "summary": rows,
             "reports": [r.to_dict() for r in reports]}, fmt, template):
        from kubectl_meshdoctor.report.tables import markdown_table, render_table
        from kubectl_meshdoctor.report.text import make_console

        cells = [[r["host"], r["errors"], r["warnings"], r["worst"]] for r in rows]
        if fmt == "markdown":
            sys.stdout.write(markdown_table(["host", "errors", "warnings", "worst"], cells))
        else:
            console = make_console(sys.stdout, no_color or bool(os.environ.get("NO_COLOR")))
            render_table(["HOST", "ERRORS", "WARNINGS", "WORST"], cells, console)
            console.print(f"{len(rows)} hosts; run `kubectl meshdoctor host HOST` for the details of one.")
    codes = [exit_code(r, fail_on) for r in reports] or [ExitCode.OK]
    raise typer.Exit(int(ExitCode.FINDINGS if ExitCode.FINDINGS in codes else max(codes)))


@app.command()
@kube_command
def snapshot(kube: Any, output: Annotated[str, typer.Option("-o", "--output", help="The file to write.")],
             all_namespaces: AllNamespacesOpt = False,
             cluster_domain: DomainOpt = "cluster.local") -> None:
    """Save what meshdoctor reads (never Secrets) as one YAML file, for a post-mortem or `--offline -f`."""
    from kubectl_meshdoctor.run.scope import read_scope, write_snapshot

    scope = read_scope(kube, all_namespaces, [], False, cluster_domain)
    count = write_snapshot(scope, output, scope.snapshot.context)
    sys.stderr.write(f"wrote {count} objects to {output}\n")


@app.command(name="checks")
@kube_command
def list_checks(kube: Any, output: OutputOpt = "text", no_color: NoColorOpt = False) -> None:
    """The findings catalogue: every code, its id, family, severity, and whether it needs a live cluster."""
    from kubectl_meshdoctor.checks.catalogue import CATALOGUE, FAMILY_BY_KEY
    from kubectl_meshdoctor.checks.registry import IMPLEMENTED

    fmt, template = _output_format(output)
    rows = [{"code": e.code, "id": e.id, "family": e.family, "severity": e.severity, "liveOnly": e.live,
             "status": "available" if e.code in IMPLEMENTED else "planned", "title": e.title} for e in CATALOGUE]
    if _write_machine({"checks": rows}, fmt, template):
        return
    from kubectl_meshdoctor.report.tables import markdown_table, render_table

    if fmt == "markdown":
        sys.stdout.write(markdown_table(["code", "id", "family", "severity", "live only", "status"],
                                        [[r["code"], r["id"], r["family"], r["severity"],
                                          "yes" if r["liveOnly"] else "", r["status"]] for r in rows]))
        return
    from kubectl_meshdoctor.report.text import make_console

    render_table(["CODE", "ID", "FAMILY", "SEVERITY", "LIVE ONLY", "STATUS"],
                 [[r["code"], r["id"], FAMILY_BY_KEY[r["family"]].title, r["severity"],
                   "yes" if r["liveOnly"] else "", r["status"]] for r in rows],
                 make_console(sys.stdout, no_color or bool(os.environ.get("NO_COLOR"))))


@app.command()
@kube_command
def explain(kube: Any, code: Annotated[str, typer.Argument(help="A code (MD201) or an id (tls-conflict).")],
            output: OutputOpt = "text") -> None:
    """What a finding means, why it breaks traffic, and how to fix it."""
    import difflib

    from kubectl_meshdoctor.checks.catalogue import BY_CODE, BY_ID, FAMILY_BY_KEY, lookup

    entry = lookup(code)
    if entry is None:
        close = difflib.get_close_matches(code.lower(), list(BY_ID), n=3) or \
            difflib.get_close_matches(code.upper(), list(BY_CODE), n=3)
        raise UsageError(f"unknown check {code!r}" + (f"; did you mean {' or '.join(close)}?" if close else
                                                       "; `kubectl meshdoctor checks` lists them all"))
    fmt, template = _output_format(output)
    family = FAMILY_BY_KEY[entry.family]
    doc = {"code": entry.code, "id": entry.id, "family": entry.family, "severity": entry.severity,
           "liveOnly": entry.live, "meaning": entry.title, "why": entry.why, "fix": list(entry.fix),
           "docs": list(entry.docs), "related": list(entry.related), "guideline": family.guideline}
    if _write_machine(doc, fmt, template):
        return
    lines = [f"{entry.code} {entry.id} ({entry.severity}; {family.title})", "",
             f"Meaning: {entry.title}.", "", f"Why it breaks traffic: {entry.why}", "", "How to fix:"]
    lines += [f"  {i}. {step}" for i, step in enumerate(entry.fix, 1)]
    lines += ["", f"Guideline: \"{family.guideline}\"", "Docs: " + " ".join(entry.docs)]
    if entry.related:
        lines.append("Related: " + ", ".join(entry.related))
    if entry.live:
        lines.append("Live only: needs the cluster (logs or --probe); not run with --offline.")
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
@kube_command
def version(kube: Any, output: OutputOpt = "text") -> None:
    """Print the plugin's version (no cluster needed)."""
    fmt, template = _output_format(output)
    doc = {"version": __version__, "python": ".".join(map(str, sys.version_info[:3]))}
    if not _write_machine(doc, fmt, template):
        sys.stdout.write(f"kubectl-meshdoctor {__version__} (python {doc['python']})\n")


def main() -> None:
    """Console entry point: usage errors as one line (exit 2), everything else from the commands.
    Called as `kubectl_complete-meshdoctor` (a symlink to the krew zipapp), it completes instead."""
    if os.path.basename(sys.argv[0]).startswith("kubectl_complete-"):
        complete_main()
        return
    try:
        # typer's completion scripts are for the `kubectl-meshdoctor` executable (kubectl's own completion
        # goes through kubectl_complete-meshdoctor), so they are generated under that name
        installing = {"--install-completion", "--show-completion"} & set(sys.argv[1:])
        code = app(prog_name="kubectl-meshdoctor" if installing else PROG, standalone_mode=False,
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


def complete_main() -> None:
    """`kubectl_complete-meshdoctor`: what kubectl (1.26+) runs to complete `kubectl meshdoctor ...`."""
    from kubectl_meshdoctor.cli.completion import main as complete

    complete(app)
