"""`scan`: one read of a scope (a namespace or the cluster), many hosts.

`scan` runs the host checks for every Service in scope, and every external host that a gateway-bound
VirtualService in scope declares, over one snapshot: the cluster is read once, not once per host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_meshdoctor.checks.registry import CHECKS
from kubectl_meshdoctor.cluster.fetch import ListRequest, collector_paused
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.cluster.resources import CollectionStatus, State
from kubectl_meshdoctor.errors import MeshdoctorError
from kubectl_meshdoctor.mesh import gatewayapi, hosts
from kubectl_meshdoctor.mesh.settings import MeshSettings, read_mesh_settings
from kubectl_meshdoctor.mesh.target import resolve_target
from kubectl_meshdoctor.mesh.virtualservices import all_destinations, declared_hosts
from kubectl_meshdoctor.report.docs import ScanReport
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.report.progress import ProgressFn, spinner
from kubectl_meshdoctor.report.suppress import parse_rules
from kubectl_meshdoctor.run import early
from kubectl_meshdoctor.run.early import Arrivals, Early, analyse_while_arriving, watched
from kubectl_meshdoctor.run.host import HostRequest, analyse, load_offline, offline_snapshot
from kubectl_meshdoctor.run.parallel import map_hosts
from kubectl_meshdoctor.run.reading import execute
from kubectl_meshdoctor.run.readplan import SCOPE_ROUNDS, ReadPlan, Seen, needed_by
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.files import load_files


@dataclass(frozen=True)
class Scope:
    snapshot: Snapshot
    settings: MeshSettings
    namespace: str | None  # None: all namespaces
    notes: tuple[str, ...]
    last_answer: float | None = None  # time.perf_counter() of the cluster's last answer (None: offline)
    early: Early | None = None  # hosts analysed while the pods were still arriving (run/early.py)


@dataclass(frozen=True)
class ScanRequest:
    all_namespaces: bool = False
    files: tuple[str, ...] = ()
    offline: bool = False
    cluster_domain: str = "cluster.local"
    suppress: tuple[str, ...] = ()
    include_system: bool = False
    sections: bool = True  # the per-host tables, for machine output; a table of hosts needs none
    recursive: bool = False  # -R


WhileReading = Callable[[Arrivals, list[ListRequest], Snapshot, Callable[[Snapshot], Scope]], Early]


def read_scope(kube: KubeOptions, all_namespaces: bool, files: list[str], offline: bool, cluster_domain: str,
               progress: ProgressFn = lambda _m: None, recursive: bool = False,
               while_reading: WhileReading | None = None) -> Scope:
    """The scope's objects: the files alone (--offline), or the cluster with the files laid over it
    (what-if, as `host -f` does). `while_reading` is given the pods of every namespace as they arrive
    (a scan of the live cluster, without files)."""
    if offline:
        loaded = load_offline(files, kube.namespace or "default", recursive)
        snapshot = offline_snapshot(loaded)
        namespace = None if all_namespaces else kube.namespace
        return Scope(snapshot, read_mesh_settings(snapshot, cluster_domain), namespace, loaded.notes)
    from kubectl_meshdoctor.snapshot.live import LiveReader

    reader = LiveReader.open(kube, progress)
    namespace = None if all_namespaces else reader.namespace
    overlay = load_files(files, reader.namespace, recursive) if files else None
    plan = ReadPlan(SCOPE_ROUNDS, needed_by(CHECKS, logs=False, probe=False))
    laid, mode = (overlay.objects if overlay else ()), ("overlay" if overlay else "live")
    arrivals = Arrivals() if while_reading is not None and early.enabled() and namespace is None else None

    def scope_of(snapshot: Snapshot) -> Scope:
        notes = (*reader.notes, *(overlay.notes if overlay else ()),
                 *((f"files laid over the live state: {', '.join(files)}",) if overlay else ()))
        return Scope(snapshot, read_mesh_settings(snapshot, cluster_domain), namespace, tuple(notes))

    found = None
    # The pods read in the background are parsed with the collector paused by this thread: if the run
    # ends on an error, the pause ends with it, whatever the reading thread is still waiting for.
    with collector_paused() if arrivals is not None else contextlib.nullcontext():
        try:
            execute(reader, plan, Seen(reader.snapshot(), reader.namespace, domain=cluster_domain, scope=namespace),
                    laid, mode, arrivals)
            # a scan asks no proxy for its configuration: MD801-MD805 then have nothing to compare (not-run)
            reader.record(CollectionStatus("proxyconfigs", State.OK,
                                           "(not asked for: scan reads no proxy configuration)"))
            background = reader.background
            if arrivals is not None and while_reading is not None and background is not None:
                progress("reading pods, and checking the hosts of each namespace as its pods arrive")
                found = while_reading(arrivals, background.requests, reader.snapshot(laid, mode), scope_of)
            reader.finish_background()
        finally:  # a run ending on an error does not wait for the background LIST, nor keep it (nor it, us)
            if reader.background is not None:
                reader.background.abandon()
            reader.background = None
    # the pods analysed early are indexed already, in the snapshot they were analysed over
    final = reader.snapshot(laid, mode) if found is None or found.whole is None or laid else \
        reader.snapshot_indexed_as(found.whole, mode)
    return dataclasses.replace(scope_of(final), last_answer=reader.api.last_answer, early=found)


def hosts_in(scope: Scope) -> list[str]:
    """Every host FINDINGS.md's host input rules name, in scope: each Service (rules 1-3), then each host
    a VirtualService declares or routes to, a DestinationRule configures, a ServiceEntry, a Gateway
    server or a Gateway API route on a Gateway declares (rules 4-5; their wildcards too, not a
    DestinationRule's). `*` alone and IP addresses are not diagnosed: `host '*'` does not resolve yet."""
    domain = scope.settings.cluster_domain
    snapshot = scope.snapshot

    def in_scope(obj: dict[str, Any]) -> bool:
        return scope.namespace in (None, o.namespace(obj))

    services = {f"{o.name(s)}.{o.namespace(s)}.svc.{domain}" for s in snapshot.all("services") if in_scope(s)}
    named: list[str] = []
    for vs in filter(in_scope, snapshot.all("virtualservices")):
        named += declared_hosts(vs, domain) + [d.host for d in all_destinations(vs, domain)]
    named += [host for dr in filter(in_scope, snapshot.all("destinationrules"))  # a wildcard rule is a
              if not (host := hosts.resolve(o.as_str(o.spec(dr).get("host")), o.namespace(dr), domain))
              .startswith("*")]  # policy over other hosts, not one to diagnose
    named += [h for se in filter(in_scope, snapshot.all("serviceentries"))
              for h in o.as_list(o.spec(se).get("hosts")) if isinstance(h, str)]
    named += [h.rpartition("/")[2] for gw in filter(in_scope, snapshot.all("gateways"))
              for server in o.as_list(o.spec(gw).get("servers"))
              for h in o.as_list(o.as_dict(server).get("hosts")) if isinstance(h, str)]
    named += [h for route in filter(in_scope, gatewayapi.routes(snapshot)) for h in gatewayapi.gateway_hostnames(route)]
    others = {h for h in named if h and h != "*" and not hosts.is_ip(h)} - services
    return sorted(services) + sorted(others)


def scan_scope(request: ScanRequest, kube: KubeOptions, no_color: bool = False) -> ScanReport:
    parse_rules(request.suppress)  # a wrong --suppress is a usage error before anything is read
    started = time.perf_counter()
    domain, suppress, sections = request.cluster_domain, request.suppress, request.sections

    def while_reading(arrivals: Arrivals, streamed: list[ListRequest], base: Snapshot,
                      scope_of: Callable[[Snapshot], Scope]) -> Early:
        return analyse_while_arriving(arrivals, streamed, base, scope_of,
                                      lambda s: _services_by_namespace(s, request.include_system),
                                      lambda s, host: analyse_host(s, host, domain, suppress, sections))

    with spinner(no_color) as progress:
        scope = read_scope(kube, request.all_namespaces, list(request.files), request.offline,
                           request.cluster_domain, progress, request.recursive, while_reading)
        fetched = time.perf_counter()
        # The snapshot lives, unchanged, to the end of the run: the cyclic collector need not walk its
        # millions of dicts again each time the analysis allocates (a tenth of a scan's time at 10k pods).
        gc.freeze()
        progress("running checks")
        report = scan(scope, request.cluster_domain, request.suppress, request.include_system, request.sections)
    if os.environ.get("MESHDOCTOR_STATS"):  # for bench/: how the time splits between reading and analysis
        done = time.perf_counter()
        read = scope.last_answer or fetched  # analysis: everything after the last byte (building the snapshot too)
        Path(os.environ["MESHDOCTOR_STATS"]).write_text(json.dumps({
            "totalSeconds": done - started, "fetchSeconds": read - started, "analysisSeconds": done - read,
            "hosts": len(report.reports), **_early_stats(scope)}))
    return report


def _early_stats(scope: Scope) -> dict[str, Any]:
    kept = scope.early is not None and scope.early.agrees(scope)
    return {"hostsAnalysedEarly": len(scope.early.standing()) if scope.early and kept else 0,
            "early": "kept" if kept else scope.early.broken or "dropped" if scope.early else "not tried"}


SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# The Services istiod creates for waypoints (pilot/pkg/config/kube/gateway deployment controller, label
# gateway.istio.io/managed): the mesh's own proxies, like istiod's.
MANAGED_BY_ISTIO, WAYPOINT_MANAGER = "gateway.istio.io/managed", "istio.io-mesh-controller"


def system_hosts(scope: Scope) -> set[str]:
    """Services of Kubernetes' own namespaces, of the Istio control plane (istiod/istio-pilot) and of
    ambient waypoints: not what an on-call engineer scans for, and their ports are unnamed by design
    (MD501 infos). Gateways in the control plane's namespace are kept: ingress traffic runs through them."""
    domain = scope.settings.cluster_domain
    cp = scope.settings.control_plane
    out = set()
    for svc in scope.snapshot.all("services"):
        own = o.namespace(svc) in SYSTEM_NAMESPACES or (
            cp is not None and o.namespace(svc) == cp.namespace and o.name(svc).startswith(("istiod", "istio-pilot"))) \
            or o.labels(svc).get(MANAGED_BY_ISTIO) == WAYPOINT_MANAGER
        if own:
            out.add(f"{o.name(svc)}.{o.namespace(svc)}.svc.{domain}")
    return out


def scan(scope: Scope, cluster_domain: str, suppress: tuple[str, ...] = (), include_system: bool = False,
         sections: bool = True) -> ScanReport:
    work, left_out = _work(scope, include_system)
    ahead = scope.early if scope.early is not None and scope.early.agrees(scope) else None
    every_pod = ahead.whole if ahead is not None else None
    done = ahead.standing() if ahead is not None else {}

    def over(it: Scope) -> Callable[[str], Report | None]:
        return lambda host: analyse_host(it, host, cluster_domain, suppress, sections)

    todo = [h for h in work if h not in done]
    if ahead is not None and every_pod is not None:  # the rest over every pod, with the indexes built early
        whole = dataclasses.replace(scope, snapshot=every_pod, settings=ahead.settings or scope.settings)
        results = map_hosts(watched(over(whole), every_pod.watch), todo)
        done.update((host, report) for host, (report, tainted, assumed) in zip(todo, results, strict=True)
                    if not tainted and every_pod.holds(assumed))
        todo = [h for h in todo if h not in done]
    done.update(zip(todo, map_hosts(over(scope), todo), strict=True))
    return ScanReport.ranked([r for h in work if (r := done[h]) is not None], left_out)


def analyse_host(scope: Scope, host: str, cluster_domain: str, suppress: tuple[str, ...], sections: bool,
                 ) -> Report | None:
    try:
        target = resolve_target(scope.snapshot, host, scope.namespace or "default", cluster_domain)
    except MeshdoctorError:
        return None
    request = HostRequest(host, cluster_domain=cluster_domain, suppress=suppress)
    return analyse(request, scope.snapshot, scope.settings, target, list(scope.notes), sections=sections)


def _work(scope: Scope, include_system: bool) -> tuple[list[str], tuple[str, ...]]:
    """The hosts to analyse, in the order they are handed out, and the system hosts left out."""
    left_out = set() if include_system else system_hosts(scope)
    named = hosts_in(scope)
    domain = scope.settings.cluster_domain
    work = sorted((h for h in named if h not in left_out), key=lambda h: _by_namespace(h, domain))
    return work, tuple(sorted(left_out & set(named)))


def _services_by_namespace(scope: Scope, include_system: bool) -> dict[str, list[str]]:
    """The Service hosts of each namespace: what can be analysed once that namespace's pods are in."""
    out: dict[str, list[str]] = {}
    for host in _work(scope, include_system)[0]:
        service, namespace, _ = _by_namespace(host, scope.settings.cluster_domain)
        if service:
            out.setdefault(namespace, []).append(host)
    return out


def _by_namespace(host: str, domain: str) -> tuple[int, str, str]:
    """The hosts that are not Services first (gateway hosts: the costliest, with their fragments and
    backends; handed out first, they cannot leave one process working alone at the end), then the
    Services grouped by namespace: the forked workers take runs of whole namespaces, and each builds
    the per-namespace indexes of its own share only. (The report is ranked afterwards: the order of
    the work does not show.)"""
    name, _, rest = host.partition(".")
    namespace, _, suffix = rest.partition(".")
    return (1, namespace, name) if suffix == f"svc.{domain}" else (0, "", host)
