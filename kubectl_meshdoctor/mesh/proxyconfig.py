"""What a proxy was started with: its node metadata switches and how it gets certificates.

Both are fixed when the pod is created (the injector writes them into the istio-proxy container),
so the running pod's own spec is the truth; the mesh config and the pod annotation only say what the
next pod would get. ISTIO-SEMANTICS.md §E (HTTP/1.0 switches) and §F (certificate delivery).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from kubectl_meshdoctor.durations import go_duration_seconds
from kubectl_meshdoctor.mesh.settings import string_map
from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.mesh.workloads import PROXY_CONTAINER, container_env
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

HTTP10_KEY = "ISTIO_META_HTTP10"
IDLE_KEY = "ISTIO_META_IDLE_TIMEOUT"
PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"
STATUS_ANNOTATION = "sidecar.istio.io/status"
GO_TRUE = ("1", "t", "T", "true", "TRUE", "True")  # strconv.ParseBool, used for PILOT_HTTP10 from 1.2
GO_BOOL = (*GO_TRUE, "0", "f", "F", "false", "FALSE", "False")


def proxy_container(pod: dict[str, Any]) -> dict[str, Any]:
    for container in [*o.as_list(o.spec(pod).get("containers")), *o.as_list(o.spec(pod).get("initContainers"))]:
        if o.as_dict(container).get("name") == PROXY_CONTAINER:
            return o.as_dict(container)
    return {}


def proxy_env(pod: dict[str, Any], snapshot: Snapshot | None = None) -> dict[str, str]:
    """The istio-proxy container's literal env: where the injector put the proxy's metadata switches.
    With the snapshot the pod is from, worked out once per pod (an injected proxy has dozens of
    variables, and several checks of every host ask)."""
    if snapshot is not None:
        return snapshot.derived_for(pod, "proxy-env", lambda: container_env(proxy_container(pod)))
    return container_env(proxy_container(pod))


def annotation_proxy_metadata(pod: dict[str, Any]) -> tuple[dict[str, str] | None, str]:
    """proxyMetadata of the `proxy.istio.io/config` annotation (YAML or JSON), and a parse problem if any."""
    text = o.annotation(pod, PROXY_CONFIG_ANNOTATION)
    if text is None:
        return None, ""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return None, f"annotation {PROXY_CONFIG_ANNOTATION} is not valid YAML/JSON"
    return string_map(o.as_dict(config).get("proxyMetadata")), ""


# ------------------------------------------------------------------------------------------ HTTP/1.0

@dataclass(frozen=True)
class SwitchProblem:
    where: str      # "mesh config defaultConfig.proxyMetadata", "annotation on pod ns/x", ...
    key: str
    value: str
    problem: str    # what is wrong, in words
    fix: str
    ref: tuple[str, str, str] = ("", "", "")  # (kind, namespace, name) of the object to change


def check_metadata(values: dict[str, str], where: str, ref: tuple[str, str, str]) -> list[SwitchProblem]:
    """Wrong keys and values among proxy metadata / env entries meant to switch HTTP/1.0 on."""
    problems = []
    correct = values.get(HTTP10_KEY)
    for key, value in values.items() if correct is None else ():
        if key.endswith("10") and key.upper() in ("HTTP10", "ISTIO_HTTP10", "META_HTTP10"):  # an env has dozens
            problems.append(SwitchProblem(where, key, value,
                                          f"`{key}` is not read by Istio: only ISTIO_META_* entries become "
                                          "proxy metadata", f"rename it to {HTTP10_KEY} with the value \"1\"", ref))
    if correct is not None and correct != "1":
        problems.append(SwitchProblem(where, HTTP10_KEY, correct,
                                      f"{HTTP10_KEY} must be exactly \"1\"; {correct!r} leaves HTTP/1.0 off",
                                      f"set {HTTP10_KEY}: \"1\"", ref))
    return problems


def pilot_http10(env: dict[str, str], version: IstioVersion | None) -> tuple[bool, str]:
    """(on, problem) for istiod's PILOT_HTTP10: exactly "1" in 1.1, a Go boolean from 1.2."""
    value = env.get("PILOT_HTTP10")
    if value is None:
        return False, ""
    if version is not None and not version.at_least(1, 2):
        return value == "1", "" if value == "1" else f"PILOT_HTTP10={value!r}: Istio 1.1 accepts only \"1\""
    if value not in GO_BOOL:
        return False, f"PILOT_HTTP10={value!r} is not a boolean istiod understands (use \"1\" or \"true\")"
    return value in GO_TRUE, ""


@dataclass(frozen=True)
class Http10State:
    """Whether one receiving proxy accepts HTTP/1.0, and why."""

    namespace: str
    pod: str
    role: str       # server (the host's sidecar, inbound) | gateway
    accepts: bool
    why: str
    version_blocked: bool = False  # switched on, but this Istio does not apply it to inbound listeners



def http10_state(pod: dict[str, Any], role: str, global_on: bool, version: IstioVersion | None,
                 snapshot: Snapshot | None = None) -> Http10State:
    env = proxy_env(pod, snapshot)
    inbound_blind = role == "server" and version is not None and not version.at_least(1, 3)
    if env.get(HTTP10_KEY) == "1":
        on, why = True, f"{HTTP10_KEY}=\"1\" on its istio-proxy container"
    elif global_on:
        on, why = True, "PILOT_HTTP10 is on in istiod"
    else:
        on, why = False, "HTTP/1.0 acceptance is not switched on for this proxy"
    if on and inbound_blind:
        why = f"{why}, but Istio {version} applies it to outbound listeners only (inbound from 1.3)"
        return Http10State(o.namespace(pod), o.name(pod), role, False, why, version_blocked=True)
    return Http10State(o.namespace(pod), o.name(pod), role, on, why)


# ------------------------------------------------------------------------------------- certificates

FILE_MOUNTED = "file-mounted"
NODE_AGENT_SDS = "node-agent-sds"
AGENT_SDS = "istio-agent-sds"
UNKNOWN = "unknown"


def cert_delivery(pod: dict[str, Any]) -> str:
    """How the sidecar gets its certificate; the injector's status annotation lists the volumes it
    added (cheapest signal), else the pod's volumes are read. istio-agent SDS wins when both it and
    the legacy secret mount are present (1.5's mountMtlsCerts)."""
    volumes: set[str] = set()
    try:
        status = json.loads(o.annotations_of(pod).get(STATUS_ANNOTATION, "") or "{}")
        volumes.update(v for v in o.as_list(o.as_dict(status).get("volumes")) if isinstance(v, str))
    except ValueError:
        pass
    volumes.update(o.as_str(o.as_dict(v).get("name")) for v in o.as_list(o.spec(pod).get("volumes")))
    if "istio-envoy" in volumes and volumes & {"istiod-ca-cert", "istio-token"}:
        return AGENT_SDS
    if "sds-uds-path" in volumes:
        return NODE_AGENT_SDS
    if "istio-certs" in volumes:
        return FILE_MOUNTED
    return UNKNOWN


@dataclass(frozen=True)
class CitadelSettings:
    ttl_hours: float
    grace_ratio: float
    source: str  # "istio-system/istio-citadel args" or "Citadel's defaults"

    @property
    def rotation_days(self) -> float:
        """Citadel renews once the remaining life drops below grace_ratio of the TTL."""
        return self.ttl_hours * (1 - self.grace_ratio) / 24


DEFAULT_TTL_HOURS = 90 * 24.0
DEFAULT_GRACE_RATIO = 0.5
def citadel_settings(snapshot: Snapshot) -> CitadelSettings | None:
    """The istio-citadel Deployment's rotation settings; None when there is no Citadel."""
    for dep in snapshot.all("deployments"):
        if o.name(dep) != "istio-citadel" and o.labels(dep).get("istio") != "citadel":
            continue
        args: list[str] = []
        for container in o.as_list(o.dig(dep, "spec", "template", "spec", "containers")):
            args += [a for a in o.as_list(o.as_dict(container).get("args")) if isinstance(a, str)]
        ttl = _flag(args, "--workload-cert-ttl")
        ratio = _flag(args, "--workload-cert-grace-period-ratio")
        ttl_seconds = go_duration_seconds(ttl) if ttl else None
        ttl_hours = ttl_seconds / 3600 if ttl_seconds else None
        try:
            grace = float(ratio) if ratio else None
        except ValueError:
            grace = None
        source = f"{o.namespace(dep)}/{o.name(dep)}" + (" args" if ttl_hours or grace is not None else
                                                         " (Citadel's defaults: 90 days, ratio 0.5)")
        return CitadelSettings(ttl_hours or DEFAULT_TTL_HOURS,
                               grace if grace is not None and 0 < grace < 1 else DEFAULT_GRACE_RATIO, source)
    return None


def _flag(args: list[str], name: str) -> str:
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return ""
