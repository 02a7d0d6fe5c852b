"""`scan` and `snapshot`: one read of a scope (a namespace or the cluster), many hosts.

`scan` runs the host checks for every Service in scope, and every external host that a gateway-bound
VirtualService in scope declares, over one snapshot: the cluster is read once, not once per host.
`snapshot` writes what such a read saw, for a post-mortem or for `--offline` later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.cluster.resources import BY_KEY
from kubectl_meshdoctor.errors import MeshdoctorError
from kubectl_meshdoctor.mesh.settings import MeshSettings, mesh_config_ref, read_mesh_settings
from kubectl_meshdoctor.mesh.target import is_gateway_bound, resolve_target
from kubectl_meshdoctor.mesh.virtualservices import declared_hosts
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.report.verdict import RANK
from kubectl_meshdoctor.run.host import HostRequest, analyse, gateway_selectors, offline_snapshot
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.files import CAPTURED_ANNOTATION, load_files


@dataclass(frozen=True)
class Scope:
    snapshot: Snapshot
    settings: MeshSettings
    namespace: str | None  # None: all namespaces
    notes: tuple[str, ...]


def read_scope(kube: KubeOptions, all_namespaces: bool, files: list[str], offline: bool,
               cluster_domain: str) -> Scope:
    if offline:
        snapshot = offline_snapshot(load_files(files, kube.namespace or "default"))
        namespace = None if all_namespaces else kube.namespace
        return Scope(snapshot, read_mesh_settings(snapshot, cluster_domain), namespace, ())
    from kubectl_meshdoctor.snapshot.live import LiveReader

    reader = LiveReader.open(kube)
    namespace = None if all_namespaces else reader.namespace
    interim = reader.snapshot()
    gateways = tuple(f"{o.namespace(g)}/{o.name(g)}" for g in interim.all("gateways"))
    reader.read_scope(namespace, mesh_config_ref(interim), gateway_selectors(interim, gateways))
    snapshot = reader.snapshot()
    return Scope(snapshot, read_mesh_settings(snapshot, cluster_domain), namespace, tuple(reader.notes))


def hosts_in(scope: Scope) -> list[str]:
    """Every Service in scope, then every external host a gateway-bound VirtualService in scope declares."""
    domain = scope.settings.cluster_domain
    services = [f"{o.name(s)}.{o.namespace(s)}.svc.{domain}" for s in scope.snapshot.all("services")
                if scope.namespace in (None, o.namespace(s))]
    external = {h: None for vs in scope.snapshot.all("virtualservices")
                if is_gateway_bound(vs) and scope.namespace in (None, o.namespace(vs))
                for h in declared_hosts(vs, domain) if ".svc." not in h and h != "*"}
    return sorted(services) + sorted(external)


def scan(scope: Scope, cluster_domain: str, suppress: tuple[str, ...] = ()) -> list[Report]:
    reports = []
    for host in hosts_in(scope):
        try:
            target = resolve_target(scope.snapshot, host, scope.namespace or "default", cluster_domain)
        except MeshdoctorError:
            continue
        request = HostRequest(host, cluster_domain=cluster_domain, suppress=suppress)
        reports.append(analyse(request, scope.snapshot, scope.settings, target, list(scope.notes)))
    return sorted(reports, key=lambda r: (-r.count("error"), -r.count("warning"), r.host))


def worst(report: Report) -> str:
    finding = min(report.findings, key=lambda f: RANK[f.level], default=None)
    return f"{finding.entry.code} {finding.entry.id}" if finding else "-"


def write_snapshot(scope: Scope, path: str, context: str | None) -> int:
    """One YAML List of the collections read (never Secrets; of ConfigMaps only the mesh config), with a
    header comment and the list of collections it holds, so that an empty one is known to be empty."""
    items = []
    captured = sorted(k for k, s in scope.snapshot.statuses.items() if s.ok)
    for key in captured:
        resource = BY_KEY[key]
        if resource.stores_as:
            continue  # gateway pods are stored with the other pods
        api_version = f"{resource.group}/{resource.versions[0]}" if resource.group else resource.versions[0]
        for obj in scope.snapshot.all(key):
            items.append({"apiVersion": api_version, "kind": resource.kind,
                          **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}})
    header = (f"# meshdoctor snapshot of {'all namespaces' if scope.namespace is None else scope.namespace}, "
              f"context {context or '-'}, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
              f"Istio {scope.settings.describe_version()}\n"
              "# Secrets are never read; of the ConfigMaps only the mesh config is.\n")
    document: dict[str, Any] = {"apiVersion": "v1", "kind": "List",
                                "metadata": {"annotations": {CAPTURED_ANNOTATION: ",".join(captured)}},
                                "items": items}
    Path(path).write_text(header + yaml.safe_dump(document, sort_keys=False))
    return len(items)
