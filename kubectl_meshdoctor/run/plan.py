"""`plan -f CHANGE`: the make-before-break order for applying a change, and what one-shot apply risks.

Reads the world the change lands on (the live cluster, or --offline files given with --base), lays
the change over it, and prints the steps with the objects and the `kubectl apply` of each. It never
applies anything itself; with --write-dir it writes one file per step for the user to apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubectl_meshdoctor.checks.findings import Finding
from kubectl_meshdoctor.checks.reconfiguration import hazard_problems, unsafe_apply_order
from kubectl_meshdoctor.checks.severity import Severity
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.errors import MeshdoctorError, UsageError
from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.changes import ChangeSet, plan
from kubectl_meshdoctor.mesh.settings import MeshSettings, read_mesh_settings
from kubectl_meshdoctor.mesh.target import resolve_target
from kubectl_meshdoctor.report.docs import PlanReport
from kubectl_meshdoctor.report.progress import spinner
from kubectl_meshdoctor.run.host import HostRequest, analyse, offline_snapshot
from kubectl_meshdoctor.run.reading import execute
from kubectl_meshdoctor.run.readplan import MODEL, SCOPE_ROUNDS, ReadPlan, Seen
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot.files import load_files


def make_plan(change_files: list[str], base_files: list[str], offline: bool, kube: KubeOptions,
              write_dir: str | None, cluster_domain: str, recursive: bool = False) -> PlanReport:
    if not change_files:
        raise UsageError("plan needs the change: -f CHANGE.yaml")
    if offline and not base_files:
        raise UsageError("--offline plan needs the world the change lands on: --base FILES")
    namespace = kube.namespace or "default"
    if offline:
        base = offline_snapshot(load_files(base_files, namespace, recursive))
        source = "files: " + ", ".join(base_files)
    else:
        base, namespace, source = _live_base(kube)
    change = ChangeSet(base, load_files(change_files, namespace, recursive).objects)
    settings = read_mesh_settings(base, cluster_domain)
    result = plan(change, settings)
    # each file is named after its own step: a plan without new subsets starts with the routes
    names = [f"{i:02d}-{step.slug}.yaml" for i, step in enumerate(result.steps, 1)] if len(result.steps) > 1 \
        else ["change.yaml"]
    directory = Path(write_dir) if write_dir else None
    files = tuple(str(directory / name) if directory else name for name in names)
    if len(result.steps) == 1 and not directory:
        files = (" -f ".join(change_files),)
    if directory:
        directory.mkdir(parents=True, exist_ok=True)
        for step, path in zip(result.steps, files, strict=True):
            Path(path).write_text(yaml.safe_dump_all(list(step.objects), sort_keys=False))
    findings = tuple(unsafe_apply_order.findings(hazard_problems(result)))
    return PlanReport(source, result, (*findings, *end_state_findings(change, settings, findings)), files,
                      bool(directory))


END_STATE_FAMILIES = ("routing", "reconfiguration", "ingress")


def end_state_findings(change: ChangeSet, settings: MeshSettings, known: tuple[Finding, ...]) -> list[Finding]:
    """The host checks on the world after every step: an order can be safe while the result is broken
    (a route to a subset whose labels select no ready pod answers 503 once the change is in). Only
    errors, each host the change touches once, none the ordering findings already say."""
    end = Snapshot.build([*change.base.objects(), *change.objects], change.base.statuses, change.base.mode)
    domain = settings.cluster_domain
    touched = dict.fromkeys(
        [drs.dr_host(r, domain) for r in change.of("destinationrules")]
        + [h for vs in change.of("virtualservices") for h in vss.declared_hosts(vs, domain)]
        + [d.host for vs in change.of("virtualservices") for d in vss.all_destinations(vs, domain)])
    # a subset no order can make safe (routed to, never defined) is already said: not again as MD301
    said = {f.subset for f in known if f.subset and f.evidence.get("hazard") == "never safe"}
    out: list[Finding] = []
    for host in touched:
        try:
            target = resolve_target(end, host, "default", domain)
        except MeshdoctorError:
            continue
        report = analyse(HostRequest(host, families=END_STATE_FAMILIES, cluster_domain=domain), end, settings,
                         target, [], sections=False)
        out += [f for f in report.findings if f.level == Severity.ERROR and f.subset not in said
                and all(f.identity() != g.identity() for g in out)]
    return out


def _live_base(kube: KubeOptions) -> tuple[Any, str, str]:
    """The configuration, and every Pod and Endpoints: the end state is judged on the pods it routes to."""
    from kubectl_meshdoctor.snapshot.live import LiveReader

    with spinner(no_color=False) as progress:  # on stderr, in a terminal only
        reader = LiveReader.open(kube, progress)
        base = execute(reader, ReadPlan(SCOPE_ROUNDS, MODEL | {"pods", "endpoints"}),
                       Seen(reader.snapshot(), reader.namespace, scope=None))
    return base, reader.namespace, f"live cluster (context {reader.context})"
