"""The commands: each parses its flags into a request, calls its use case in run/, and emits the
document it gets back. Heavy imports (kubernetes, rich, yaml) happen inside, so `version` stays instant."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kubectl_meshdoctor.cli import flags as f
from kubectl_meshdoctor.cli.flags import kube_command
from kubectl_meshdoctor.errors import EXIT_CODES_HELP, ExitCode


def _emit() -> Any:
    """report.emit, imported when a command runs (not at startup): prepare() checks -o and --fail-on
    before anything is read, finish() prints the document and gives its exit code."""
    from kubectl_meshdoctor.report import emit

    return emit


EXAMPLES: dict[str, tuple[str, ...]] = {  # each a command line, or a `# comment` on the one that follows
    "host": ("kubectl meshdoctor host reviews -n bookinfo",
             "kubectl meshdoctor host reviews.bookinfo.svc.cluster.local -o json",
             "# what-if: the files laid over the cluster",
             "kubectl meshdoctor host reviews -n bookinfo -f new-rules.yaml",
             "# no cluster: the files are the whole world",
             "kubectl meshdoctor host reviews --offline -f ./istio-config/ -R",
             "# no cluster, what-if: the change laid over a snapshot",
             "kubectl meshdoctor host reviews --offline --base dump.yaml -f new.yaml",
             "# compare with what a client proxy really holds (its saved config_dump)",
             "kubectl meshdoctor host reviews -n bookinfo --config-dump productpage.json",
             "# also ask the pods through port-forwards",
             "kubectl meshdoctor host bookinfo.example.com --probe"),
    "tls": ("kubectl meshdoctor tls reviews -n bookinfo",
            "kubectl meshdoctor tls reviews -n bookinfo -o json"),
    "plan": ("kubectl meshdoctor plan -n bookinfo -f reviews-v3.yaml",
             "kubectl meshdoctor plan -n bookinfo -f reviews-v3.yaml --write-dir steps/"),
    "scan": ("kubectl meshdoctor scan -A",
             "kubectl meshdoctor scan -n bookinfo -o junit > meshdoctor.xml",
             "kubectl meshdoctor scan --offline -f dump.yaml"),
    "snapshot": ("kubectl meshdoctor snapshot -A > dump.yaml",
                 "kubectl meshdoctor snapshot -n bookinfo -o json --output-file dump.json"),
    "checks": ("kubectl meshdoctor checks", "kubectl meshdoctor checks -o markdown"),
    "explain": ("kubectl meshdoctor explain MD201", "kubectl meshdoctor explain tls-conflict -o json"),
    "version": ("kubectl meshdoctor version", "kubectl meshdoctor version --client -o json"),
}


def epilog(command: str, exit_codes: bool = True) -> str:
    """An Examples section (kept line by line: click's \b marker) and, for commands that judge a
    cluster, what the exit codes mean."""
    examples = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command])
    return examples + ("\n\n" + EXIT_CODES_HELP if exit_codes else "")


def register(app: typer.Typer) -> None:
    @app.command(epilog=epilog("host"))
    @kube_command
    def host(kube: Any, host: f.Host, filename: f.Files = None, recursive: f.Recursive = False,
             offline: f.Offline = False, base: f.Base = None, output: f.Output = "text",
             fail_on: f.FailOnOpt = "error", no_color: f.NoColor = False, cluster_domain: f.Domain = "cluster.local",
             suppress: f.Suppress = None, no_logs: f.NoLogs = False, since: f.Since = "15m",
             log_bytes: f.LogBytes = 512 * 1024, probe: f.Probe = False,
             client_namespace: f.ClientNs = None, verbose: f.Verbose = False,
             config_dump: f.ConfigDump = None) -> ExitCode:
        """Diagnose traffic to one host: routing, TLS, subsets, ingress, workload, HTTP/1.0 and long-lived TCP
        problems, each with the objects involved and the fix. Live runs also read the proxies' logs."""
        from kubectl_meshdoctor.run.host import HostRequest, diagnose_host, evidence_options

        out, threshold = _emit().prepare("Report", output, no_color, fail_on, verbose)
        evidence = evidence_options(no_logs, since, log_bytes, probe, client_namespace or ())
        request = HostRequest(host, tuple(filename or ()), offline, cluster_domain, (), tuple(suppress or ()), evidence,
                              recursive, tuple(base or ()), tuple(config_dump or ()))
        return _emit().finish(diagnose_host(request, kube, out.no_color), out, threshold)

    @app.command(epilog=epilog("tls"))
    @kube_command
    def tls(kube: Any, host: f.Host, filename: f.Files = None, recursive: f.Recursive = False,
            offline: f.Offline = False, output: f.Output = "text",
            fail_on: f.FailOnOpt = "error", no_color: f.NoColor = False,
            cluster_domain: f.Domain = "cluster.local", verbose: f.Verbose = False) -> ExitCode:
        """Client TLS against server mTLS for every client namespace, port and subset of a host (what
        `istioctl authn tls-check` showed, for Istio 1.0 to today), with the conflicts explained."""
        from kubectl_meshdoctor.run.host import HostRequest, diagnose_tls

        out, threshold = _emit().prepare("TlsReport", output, no_color, fail_on, verbose)
        request = HostRequest(host, tuple(filename or ()), offline, cluster_domain, ("tls",), recursive=recursive)
        return _emit().finish(diagnose_tls(request, kube, out.no_color), out, threshold)

    @app.command(epilog=epilog("plan"))
    @kube_command
    def plan(kube: Any, filename: f.Files = None, recursive: f.Recursive = False,
             base: f.Base = None,
             offline: f.Offline = False,
             write_dir: Annotated[str | None, typer.Option("--write-dir", help="Write one file per step here.")] = None,
             output: f.Output = "text", fail_on: f.FailOnOpt = "error", no_color: f.NoColor = False,
             cluster_domain: f.Domain = "cluster.local") -> ExitCode:
        """The safe order to apply a change of DestinationRules and VirtualServices (make-before-break), and
        what applying it in one go would break. Applies nothing."""
        from kubectl_meshdoctor.run.plan import make_plan

        out, threshold = _emit().prepare("PlanReport", output, no_color, fail_on)
        doc = make_plan(list(filename or ()), list(base or ()), offline, kube, write_dir, cluster_domain, recursive)
        return _emit().finish(doc, out, threshold)

    @app.command(epilog=epilog("scan"))
    @kube_command
    def scan(kube: Any, all_namespaces: f.AllNamespaces = False, filename: f.Files = None,
             recursive: f.Recursive = False, offline: f.Offline = False,
             output: f.Output = "text", fail_on: f.FailOnOpt = "error", no_color: f.NoColor = False,
             cluster_domain: f.Domain = "cluster.local", suppress: f.Suppress = None,
             include_system: f.IncludeSystem = False) -> ExitCode:
        """Every host in a namespace (or with -A, the cluster) through the host checks, worst first, from one
        read of the cluster: for when you do not know yet which host is broken."""
        from kubectl_meshdoctor.run.scope import ScanRequest, scan_scope

        out, threshold = _emit().prepare("ScanReport", output, no_color, fail_on)
        request = ScanRequest(all_namespaces, tuple(filename or ()), offline, cluster_domain, tuple(suppress or ()),
                              include_system, sections=out.machine, recursive=recursive)
        return _emit().finish(scan_scope(request, kube, out.no_color), out, threshold)

    @app.command(epilog=epilog("snapshot", exit_codes=False))
    @kube_command
    def snapshot(kube: Any, output: Annotated[str, typer.Option("-o", "--output", help="yaml | json")] = "yaml",
                 output_file: Annotated[str | None, typer.Option("--output-file", help="Write to this file instead "
                                                                 "of stdout.")] = None,
                 all_namespaces: f.AllNamespaces = False, cluster_domain: f.Domain = "cluster.local") -> ExitCode:
        """Print what meshdoctor reads (never Secrets) as one List, for a post-mortem or `--offline -f`:
        `kubectl meshdoctor snapshot -A > dump.yaml`."""
        from kubectl_meshdoctor.run.dump import dump

        dump(kube, all_namespaces, output, output_file, cluster_domain)
        return ExitCode.OK

    @app.command(name="checks", epilog=epilog("checks", exit_codes=False))
    @kube_command
    def list_checks(kube: Any, output: f.Output = "text", no_color: f.NoColor = False) -> ExitCode:
        """The findings catalogue: every code, its id, family, severity, and whether it needs a live cluster."""
        from kubectl_meshdoctor.run.info import catalogue

        return _emit().finish(catalogue(), _emit().prepare("Catalogue", output, no_color)[0])

    @app.command(epilog=epilog("explain", exit_codes=False))
    @kube_command
    def explain(kube: Any, code: Annotated[str, typer.Argument(help="A code (MD201) or an id (tls-conflict).")],
                output: f.Output = "text") -> ExitCode:
        """What a finding means, why it breaks traffic, and how to fix it."""
        from kubectl_meshdoctor.run.info import explanation

        return _emit().finish(explanation(code), _emit().prepare("Explanation", output, False)[0])

    @app.command(epilog=epilog("version", exit_codes=False))
    @kube_command
    def version(kube: Any, output: f.Output = "text") -> ExitCode:
        """Print the plugin's version (no cluster needed)."""
        from kubectl_meshdoctor.run.info import version as version_doc

        return _emit().finish(version_doc(), _emit().prepare("Version", output, False)[0])
