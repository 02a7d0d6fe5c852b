"""Completion: `kubectl_complete-meshdoctor` (kubectl 1.26+ runs it to complete `kubectl meshdoctor ...`)
and typer's own shell completion of host names.

kubectl passes the words after the plugin name (the last one being completed, maybe empty) and reads
one candidate per line; a last line `:4` asks the shell not to fall back to file names. Host names
come from the cluster, bounded by a short timeout and silent on any error: completion must never
print an error or hang a shell.
"""

from __future__ import annotations

from typing import Any

COMMANDS = ("host", "tls", "scan", "plan", "snapshot", "checks", "explain", "version")
NO_FILES, FILES = ":4", ":0"


def _flag(args: list[str], *names: str) -> str | None:
    for i, word in enumerate(args[:-1]):  # the last word is the one being completed
        if word in names:
            return args[i + 1]
        for name in names:
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def cluster_names(args: list[str], what: str) -> list[str]:
    """Services of the namespace (short names, and name.namespace for the others), or namespaces."""
    try:
        from kubectl_meshdoctor.cluster.api import RawApi, Timeouts
        from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions, connect

        timeouts = Timeouts(1.0, 1.5, 1.5)
        conn = connect(KubeOptions(namespace=_flag(args, "-n", "--namespace"),
                                   kubeconfig=_flag(args, "--kubeconfig"), context=_flag(args, "--context"),
                                   request_timeout=timeouts))
        api = RawApi(conn.api_client, timeouts)
        if what == "namespaces":
            return [i["metadata"]["name"] for i in api.get("/api/v1/namespaces").get("items", [])]
        items = api.get("/api/v1/services").get("items", [])
        own = [i["metadata"]["name"] for i in items if i["metadata"].get("namespace") == conn.namespace]
        return own + [f"{i['metadata']['name']}.{i['metadata']['namespace']}" for i in items] + _gateway_hosts(api)
    except Exception:  # completion is silent: no traceback, no message in the user's shell
        return []


def _gateway_hosts(api: Any) -> list[str]:
    """The hosts Gateways serve (`myapp.example.com`), from the first Istio API version served."""
    for version in ("v1", "v1beta1", "v1alpha3"):
        try:
            items = api.get(f"/apis/networking.istio.io/{version}/gateways").get("items", [])
        except Exception:
            continue
        found = {h.rpartition("/")[2] for g in items for server in (g.get("spec") or {}).get("servers") or []
                 for h in server.get("hosts") or [] if isinstance(h, str)}
        return sorted(h for h in found if h and "*" not in h)
    return []


def kube_contexts(args: list[str]) -> list[str]:
    try:
        from kubernetes import config

        contexts, _ = config.list_kube_config_contexts(config_file=_flag(args, "--kubeconfig"))
        return [c["name"] for c in contexts]
    except Exception:  # silent, like every completion
        return []


OUTPUTS = ("text", "json", "yaml", "markdown", "junit", "jsonpath=")


def candidates(args: list[str], app: Any) -> tuple[list[str], str]:
    """app: the typer app, whose commands' options are the flags to offer."""
    word = args[-1] if args else ""
    if len(args) <= 1:
        return [c for c in COMMANDS if c.startswith(word)], NO_FILES
    command, previous = args[0], args[-2]
    if previous in ("-f", "--filename", "--base", "--kubeconfig", "--certificate-authority", "--write-dir"):
        return [], FILES
    if previous in ("-n", "--namespace"):
        return [n for n in cluster_names(args, "namespaces") if n.startswith(word)], NO_FILES
    if previous in ("-o", "--output") and command != "snapshot":
        return [o for o in OUTPUTS if o.startswith(word)], NO_FILES
    if previous == "--context":
        return [c for c in kube_contexts(args) if c.startswith(word)], NO_FILES
    from typer.main import get_command

    group = get_command(app)
    params = group.commands[command].params if command in group.commands else []  # type: ignore[attr-defined]
    if word.startswith("-"):
        return sorted({o for p in params for o in p.opts if o.startswith(word)}), NO_FILES
    if command == "explain":
        from kubectl_meshdoctor.checks.catalogue import CATALOGUE

        return [x for e in CATALOGUE for x in (e.code, e.id) if x.lower().startswith(word.lower())], NO_FILES
    switches = {o for p in params if getattr(p, "is_flag", False) for o in p.opts}  # flags without a value
    positional = [w for i, w in enumerate(args[1:-1], 1) if not w.startswith("-")
                  and (not args[i - 1].startswith("-") or args[i - 1] in switches or "=" in args[i - 1])]
    if command in ("host", "tls") and not positional:
        return [n for n in cluster_names(args, "services") if n.startswith(word)], NO_FILES
    return [], NO_FILES


def complete_host(ctx: Any, incomplete: str) -> list[str]:
    """Host names from the cluster for typer's shell completion (silent and bounded, like kubectl's)."""
    words = [w for k, v in (ctx.params or {}).items() if v and k in ("namespace", "kubeconfig", "context")
             for w in (f"--{k}", str(v))]
    return [n for n in cluster_names([*words, incomplete], "services") if n.startswith(incomplete)]
