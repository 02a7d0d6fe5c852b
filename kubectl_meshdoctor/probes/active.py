"""Which pods and ports the probes ask, and the one status the report shows for them."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from kubectl_meshdoctor.cluster.resources import CollectionStatus, State
from kubectl_meshdoctor.mesh.configdump import ProxyConfig, parse_config_dump
from kubectl_meshdoctor.mesh.protocol import derive
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.target import Target, target_services
from kubectl_meshdoctor.mesh.workloads import (
    PROXY_CONTAINER,
    container_port,
    pod_ready,
    service_pods,
    service_selector,
)
from kubectl_meshdoctor.probes import execute
from kubectl_meshdoctor.probes.portforward import FORBIDDEN, exchange
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.evidence import HttpProbe, PortAnswer

SYNCZ_BYTES = 32 << 20
SYNCZ_READ_SECONDS = 10.0  # a large mesh's syncz is megabytes
CONFIG_DUMP_BYTES = 32 << 20  # one proxy's generated configuration: megabytes in a large mesh
ENVOY_ADMIN = 15000
CONFIG_PROBE_SECONDS = 30.0  # every proxy configuration read of one run together


def probe_http_ports(api_client: Any, snapshot: Snapshot, settings: MeshSettings, target: Target) -> list[HttpProbe]:
    """One ready pod per HTTP (or sniffed) port of each Service behind the host, asked `GET /` in
    HTTP/1.1 directly on the container port (a port-forward bypasses the sidecar)."""
    probes = []
    for svc in target_services(snapshot, target):
        if not service_selector(svc):
            continue
        ready = [p for p in service_pods(snapshot, svc) if pod_ready(p)]
        if not ready:
            continue
        pod = ready[0]
        for port in map(o.as_dict, o.as_list(o.spec(svc).get("ports"))):
            protocol = derive(port, settings.version)
            number = container_port(pod, port)
            if number is None or not (protocol.http_like or protocol.sniffed):
                continue
            request = (f"GET / HTTP/1.1\r\nHost: {target.host}\r\nUser-Agent: kubectl-meshdoctor\r\n"
                       "Accept: */*\r\nConnection: close\r\n\r\n").encode()
            answer = exchange(api_client, o.namespace(pod), o.name(pod), number, request)
            probes.append(HttpProbe(f"{o.namespace(svc)}/{o.name(svc)}", int(port.get("port") or 0), answer))
    return probes


def probe_syncz(api_client: Any, istiod_pods: list[dict[str, Any]], settings: MeshSettings) -> list[PortAnswer]:
    """/debug/syncz of every running istiod: each proxy is connected to one of them."""
    return [dataclasses.replace(answer, truncated=len(answer.data) >= SYNCZ_BYTES) for answer in
            (ask_istiod(api_client, pod, "/debug/syncz", settings, SYNCZ_BYTES) for pod in _running(istiod_pods))]


def ask_istiod(api_client: Any, pod: dict[str, Any], path: str, settings: MeshSettings, max_bytes: int,
               read_seconds: float = SYNCZ_READ_SECONDS) -> PortAnswer:
    """GET one of istiod's debug endpoints on its monitoring port; when the port-forward is denied or
    fails, istiod is asked to fetch it itself: `pilot-discovery request GET PATH` (exec), as istioctl does."""
    port = 8080 if settings.version is not None and not settings.version.at_least(1, 1) else 15014
    return _ask(api_client, pod, port, path, _discovery_container(pod), ["pilot-discovery", "request", "GET", path],
                max_bytes, read_seconds)


def ask_envoy(api_client: Any, pod: dict[str, Any], path: str, max_bytes: int,
              read_seconds: float = SYNCZ_READ_SECONDS) -> PortAnswer:
    """GET the proxy's own Envoy admin endpoint. Istio binds the admin to 127.0.0.1:15000 inside the pod,
    which a port-forward reaches (istioctl proxy-config does the same); the exec fallback is pilot-agent's
    own client, `pilot-agent request GET PATH`, in the istio-proxy container."""
    return _ask(api_client, pod, ENVOY_ADMIN, path, PROXY_CONTAINER,
                ["pilot-agent", "request", "GET", path.lstrip("/")], max_bytes, read_seconds)


def _ask(api_client: Any, pod: dict[str, Any], port: int, path: str, container: str, command: list[str],
         max_bytes: int, read_seconds: float) -> PortAnswer:
    """Asked in HTTP/1.0 so the body ends with the connection (no chunking to undo); read-only GETs."""
    request = f"GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: kubectl-meshdoctor\r\n\r\n".encode()
    answer = exchange(api_client, o.namespace(pod), o.name(pod), port, request, max_bytes,
                      read_seconds=read_seconds)
    if answer.error and "no answer within" not in answer.error:  # a silent port: exec would hang too
        fallback = execute.run(api_client, o.namespace(pod), o.name(pod), container, command, max_bytes,
                               read_seconds)
        answer = fallback if not fallback.error else dataclasses.replace(
            answer, error=f"port-forward: {answer.error}; exec: {fallback.error}")
    return answer


def _running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in sorted(pods, key=o.name) if o.as_str(o.status(p).get("phase")) == "Running"]


def probe_config_dumps(api_client: Any, istiod_pods: list[dict[str, Any]], settings: MeshSettings,
                       proxies: list[dict[str, Any]], budget: float = CONFIG_PROBE_SECONDS,
                       ) -> tuple[list[ProxyConfig], list[str], CollectionStatus]:
    """Each chosen proxy's configuration twice: what its Envoy holds (admin `/config_dump`) and what istiod
    generates for it now (`/debug/config_dump?proxyID=POD.NAMESPACE`, answered by the istiod the proxy is
    connected to; the others answer 404). The held one is compared with the model; the generated one says
    whether a difference is staleness (istiod would send something else) or the model's (it would not).
    Each read is bounded in bytes and time, and all of them together by `budget` (six proxies behind silent
    ports would otherwise keep an incident waiting for minutes); what could not be read is said, not guessed."""
    configs, notes, denied = [], [], ""
    istiods = _running(istiod_pods)
    deadline = time.monotonic() + budget

    def left() -> float:
        return deadline - time.monotonic()

    spent = f"not asked: the {budget:g}s --probe gives the proxies' configuration were spent on the proxies before"
    for pod in proxies:
        proxy = f"{o.name(pod)}.{o.namespace(pod)}"
        if left() <= 0:
            notes.append(f"the configuration of proxy {proxy} was {spent}")
            continue
        held, held_why = _dump(ask_envoy(api_client, pod, "/config_dump", CONFIG_DUMP_BYTES,
                                         min(SYNCZ_READ_SECONDS, left())))
        generated, why = None, []
        for istiod in istiods:
            if left() <= 0:
                why.append(spent)
                break
            generated, error = _dump(ask_istiod(api_client, istiod, f"/debug/config_dump?proxyID={proxy}", settings,
                                                CONFIG_DUMP_BYTES, min(SYNCZ_READ_SECONDS, left())))
            if generated is not None:
                generated_from = f"istiod {o.namespace(istiod)}/{o.name(istiod)} /debug/config_dump"
                break
            why.append(f"{o.namespace(istiod)}/{o.name(istiod)}: {error}")
        denied = denied or next((e for e in (held_why, *why) if FORBIDDEN in e), "")
        from_istiod = parse_config_dump(generated, o.namespace(pod), o.name(pod), generated_from) \
            if generated is not None else None
        if held is not None:
            configs.append(dataclasses.replace(
                parse_config_dump(held, o.namespace(pod), o.name(pod), f"Envoy admin of {proxy} /config_dump"),
                generated=from_istiod))
            if from_istiod is None:
                notes.append(f"what istiod now generates for proxy {proxy} could not be read "
                             f"({'; '.join(why) or 'no running istiod'}): a difference from the model cannot be "
                             "told apart from staleness")
        elif from_istiod is not None:
            configs.append(from_istiod)
            notes.append(f"the Envoy admin of proxy {proxy} could not be read ({held_why}); compared what istiod "
                         "generates for it instead, which a stale proxy may not hold")
        else:
            notes.append(f"the configuration of proxy {proxy} could not be read: Envoy admin: {held_why}; istiod: "
                         f"{'; '.join(why) or 'no running istiod'}")
    return configs, notes, _config_status(len(proxies), len(configs), denied, notes)


def _dump(answer: PortAnswer) -> tuple[dict[str, Any] | None, str]:
    """A config_dump document, or why there is none."""
    body, error = answer.body()
    if error:
        return None, error
    try:
        doc = json.loads(body)
    except ValueError:
        return None, "answered something that is not JSON" + (
            " (cut at the byte cap)" if len(answer.data) >= CONFIG_DUMP_BYTES else "")
    return (doc, "") if isinstance(doc, dict) and isinstance(doc.get("configs"), list) else \
        (None, "answered no config_dump")


def _config_status(asked: int, read: int, denied: str, notes: list[str]) -> CollectionStatus:
    """Read all, some (partial), or none: forbidden with the API's words, else an error naming why."""
    scope = f"of {asked} prox{'y' if asked == 1 else 'ies'}"
    if read == asked:
        return CollectionStatus("proxyconfigs", State.OK, scope if asked else "(no ready client proxy to ask)")
    if read:
        return CollectionStatus("proxyconfigs", State.PARTIAL, scope, "; ".join(notes))
    if denied:
        return CollectionStatus("proxyconfigs", State.FORBIDDEN, scope, denied.partition(FORBIDDEN)[2].lstrip(": "))
    return CollectionStatus("proxyconfigs", State.ERROR, scope, "; ".join(notes))


def _discovery_container(pod: dict[str, Any]) -> str:
    names = [o.as_str(o.as_dict(c).get("name")) for c in o.as_list(o.spec(pod).get("containers"))]
    return next((n for n in names if n in ("discovery", "pilot")), names[0] if names else "discovery")


def portforward_status(answers: list[PortAnswer]) -> CollectionStatus:
    """How the HTTP probes' port-forwards went (istiod's syncz has its own fallback, judged by MD303)."""
    denied = next((a for a in answers if a.error.startswith(FORBIDDEN)), None)
    if denied is not None:
        return CollectionStatus("portforward", State.FORBIDDEN, f"in {denied.namespace}",
                                denied.error.partition(": ")[2])
    failed = [a for a in answers if a.error]
    if failed and len(failed) < len(answers):  # some answered: what the others would have said is unknown
        unanswered = "; ".join(f"{a.namespace}/{a.pod}:{a.port} ({a.error})" for a in failed)
        return CollectionStatus("portforward", State.PARTIAL, f"{len(answers)} exchanges",
                                f"no answer from {unanswered}")
    return CollectionStatus("portforward", State.OK, f"{len(answers)} exchanges")
