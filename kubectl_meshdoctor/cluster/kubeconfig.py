"""Cluster credentials resolved the way kubectl resolves them, without the Python client's traps.

The client's own `load_kube_config()` lets the *last* KUBECONFIG file pick current-context, fails on
empty files, mutates global state, rewrites the user's kubeconfig on token refresh, swallows exec
plugin failures and prints to stdout in its in-cluster fallback (ECOSYSTEM.md §2.3-2.5). This module
picks the files and the context itself and hands the client an explicit, isolated configuration.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubectl_meshdoctor.cluster.api import Timeouts
from kubectl_meshdoctor.durations import go_duration_seconds
from kubectl_meshdoctor.errors import KubeconfigError, UsageError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_OVERRIDE_CONTEXT = "meshdoctor-override"


@dataclass(frozen=True)
class KubeOptions:
    """kubectl's global flags, which kubectl hands to plugins untouched after the plugin name."""

    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    as_user: str | None = None
    as_groups: tuple[str, ...] = ()
    token: str | None = None
    server: str | None = None
    insecure_skip_tls_verify: bool = False
    certificate_authority: str | None = None
    request_timeout: Timeouts = field(default_factory=Timeouts)

    @classmethod
    def from_flags(cls, v: dict[str, Any]) -> KubeOptions:
        """From the kubectl flags as the CLI parsed them (cli/flags.py KUBE_FLAGS)."""
        return cls(namespace=v["namespace"], kubeconfig=v["kubeconfig"], context=v["context"], cluster=v["cluster"],
                   user=v["user"], as_user=v["as_user"], as_groups=tuple(v["as_group"] or ()), token=v["token"],
                   server=v["server"], insecure_skip_tls_verify=v["insecure_skip_tls_verify"],
                   certificate_authority=v["certificate_authority"], request_timeout=timeouts(v["request_timeout"]))


def timeouts(text: str | None) -> Timeouts:
    """kubectl's --request-timeout: '0' means no timeout; '2s', '1m30s', '500ms'; a bare number is seconds."""
    if text is None:
        return Timeouts()
    value = text.strip()
    seconds = float(value) if re.fullmatch(r"\d+(\.\d+)?", value) else go_duration_seconds(value)
    if seconds is None:
        raise UsageError(f"invalid --request-timeout {text!r}: use e.g. 2s, 1m, 0 (no timeout)")
    return Timeouts.of(seconds)


@dataclass
class Connection:
    api_client: Any
    context: str | None
    namespace: str
    timeout: Timeouts
    user_label: str = ""
    notes: list[str] = field(default_factory=list)


def kubeconfig_paths(explicit: str | None, environ: os._Environ[str] | dict[str, str]) -> list[Path]:
    """--kubeconfig alone (no merge), else the KUBECONFIG list minus missing/empty files, else ~/.kube/config."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise KubeconfigError(f"kubeconfig {explicit} does not exist or is not a file")
        return [path]
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    candidates = [Path(p).expanduser() for p in listed] if listed else [Path("~/.kube/config").expanduser()]
    return [p for p in candidates if p.is_file() and p.stat().st_size > 0]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}".splitlines()[0]) from exc
    return data if isinstance(data, dict) else {}


def _first_wins(docs: list[dict[str, Any]], section: str, name: str) -> dict[str, Any] | None:
    for doc in docs:
        for entry in doc.get(section) or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry.get(section[:-1]) or {}
    return None


def connect(opts: KubeOptions, environ: os._Environ[str] | dict[str, str] | None = None) -> Connection:
    """An isolated ApiClient for the chosen context, with kubectl's overrides applied."""
    from kubernetes.client import ApiClient, Configuration  # lazy: keeps `version` fast

    env = os.environ if environ is None else environ
    paths = kubeconfig_paths(opts.kubeconfig, env)
    cfg = Configuration()
    if paths:
        context, namespace, user_entry = _load_kubeconfig(paths, opts, cfg)
    elif env.get("KUBERNETES_SERVICE_HOST") or opts.server:
        context, namespace, user_entry = _load_in_cluster(opts, cfg, env)
    else:
        raise KubeconfigError("no kubeconfig found (KUBECONFIG, ~/.kube/config) and not running in a pod: "
                              "pass --kubeconfig, or use --offline -f FILES")
    _apply_overrides(opts, cfg)
    _keep_overrides_on_refresh(opts, cfg)
    if not _has_credentials(cfg) and _declares_credentials(user_entry) and not opts.token:
        raise KubeconfigError(f"no credentials obtained for context {context!r}: the authentication plugin "
                              "(exec/auth-provider) failed; run it by hand (or `kubectl get ns`) to see why")
    # One worker per collection in the fan-out; a smaller pool makes urllib3 drop connections.
    cfg.connection_pool_maxsize = 16
    cfg.retries = False  # retries are ours, bounded by --request-timeout
    client = ApiClient(configuration=cfg)
    if opts.as_user:
        client.set_default_header("Impersonate-User", opts.as_user)
    if len(opts.as_groups) > 1:
        raise UsageError("--as-group can be given once (the Python client cannot send the header twice)")
    if opts.as_groups:
        client.set_default_header("Impersonate-Group", opts.as_groups[0])
    user_label = opts.as_user or ""
    return Connection(client, context, opts.namespace or namespace, opts.request_timeout, user_label)


def _load_kubeconfig(paths: list[Path], opts: KubeOptions, cfg: Any) -> tuple[str | None, str, dict[str, Any] | None]:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    docs = [_read_yaml(p) for p in paths]
    context = opts.context or next((d["current-context"] for d in docs if d.get("current-context")), None)
    if not context and not (opts.cluster and opts.user):
        raise KubeconfigError(f"no current-context in {', '.join(map(str, paths))}; pass --context")
    ctx_entry = _first_wins(docs, "contexts", context) if context else {}
    if ctx_entry is None:
        raise KubeconfigError(f"context {context!r} not found in {', '.join(map(str, paths))}")
    merged = KubeConfigMerger(os.pathsep.join(map(str, paths))).config
    active = context
    if opts.cluster or opts.user:
        override = {**ctx_entry}
        override.update({k: v for k, v in (("cluster", opts.cluster), ("user", opts.user)) if v})
        merged.value["contexts"].append({"name": _OVERRIDE_CONTEXT, "context": override})
        active = _OVERRIDE_CONTEXT
        ctx_entry = override
    for section, key in (("clusters", "cluster"), ("users", "user")):
        name = ctx_entry.get(key)
        if name and _first_wins(docs, section, name) is None and not (key == "user" and opts.token):
            raise KubeconfigError(f"{key} {name!r} of context {context!r} not found in the kubeconfig")
    try:
        KubeConfigLoader(config_dict=merged, config_base_path=None, active_context=active).load_and_set(cfg)
    except (ConfigException, ValueError, OSError) as exc:
        raise KubeconfigError(f"kubeconfig context {context!r}: {exc}".splitlines()[0]) from exc
    user_entry = _first_wins(docs, "users", ctx_entry.get("user", "")) if ctx_entry.get("user") else None
    return context, ctx_entry.get("namespace") or "default", user_entry


def _load_in_cluster(opts: KubeOptions, cfg: Any, env: Any) -> tuple[str | None, str, dict[str, Any] | None]:
    """In a pod: the service account. The client does not read the namespace file; kubectl does."""
    if env.get("KUBERNETES_SERVICE_HOST") and (SERVICE_ACCOUNT_DIR / "token").is_file():
        from kubernetes.config.incluster_config import InClusterConfigLoader

        InClusterConfigLoader(token_filename=str(SERVICE_ACCOUNT_DIR / "token"),
                              cert_filename=str(SERVICE_ACCOUNT_DIR / "ca.crt")).load_and_set(cfg)
    ns_file = SERVICE_ACCOUNT_DIR / "namespace"
    namespace = ns_file.read_text().strip() if ns_file.is_file() else "default"
    return None, namespace, None


def _apply_overrides(opts: KubeOptions, cfg: Any) -> None:
    if opts.server:
        cfg.host = opts.server.rstrip("/")
    if opts.token:
        cfg.api_key = {"authorization": f"Bearer {opts.token}"}
        cfg.api_key_prefix = {}
    if opts.insecure_skip_tls_verify:
        cfg.verify_ssl = False
    if opts.certificate_authority:
        if not Path(opts.certificate_authority).is_file():
            raise KubeconfigError(f"--certificate-authority {opts.certificate_authority} does not exist")
        cfg.ssl_ca_cert = opts.certificate_authority
    if not cfg.host:
        raise KubeconfigError("no API server address: the context has no cluster server; pass -s/--server")


def _keep_overrides_on_refresh(opts: KubeOptions, cfg: Any) -> None:
    """With a token in the kubeconfig the client installs a hook that runs before every request and
    copies the kubeconfig's host and token back onto the configuration, silently undoing --server and
    --token. Re-apply the flags after it."""
    hook = cfg.refresh_api_key_hook
    if hook is None:
        return

    def refresh(configuration: Any) -> None:
        hook(configuration)  # it also re-installs itself as the hook: put ours back
        _apply_overrides(opts, configuration)
        configuration.refresh_api_key_hook = refresh

    cfg.refresh_api_key_hook = refresh


def _has_credentials(cfg: Any) -> bool:
    """The bearer token key changed name across client versions (ECOSYSTEM.md §2.2): look at both."""
    keys = cfg.api_key or {}
    return bool(keys.get("authorization") or keys.get("BearerToken") or cfg.cert_file or cfg.username)


def _declares_credentials(user: dict[str, Any] | None) -> bool:
    if not user:
        return False
    return any(user.get(k) for k in ("exec", "auth-provider", "token", "tokenFile", "client-certificate",
                                     "client-certificate-data", "username"))
