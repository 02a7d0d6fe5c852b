"""`plan -f CHANGE`: the make-before-break order for applying a change, and what one-shot apply risks.

Reads the world the change lands on (the live cluster, or --offline files given with --base), lays
the change over it, and prints the steps with the objects and the `kubectl apply` of each. It never
applies anything itself; with --write-dir it writes one file per step for the user to apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubectl_meshdoctor.checks.reconfiguration import hazard_problems, unsafe_apply_order
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.errors import UsageError
from kubectl_meshdoctor.mesh.changes import ChangeSet, plan
from kubectl_meshdoctor.mesh.settings import read_mesh_settings
from kubectl_meshdoctor.report.docs import PlanReport
from kubectl_meshdoctor.run.reading import execute
from kubectl_meshdoctor.run.readplan import HOST_ROUNDS, MODEL, ReadPlan, Seen
from kubectl_meshdoctor.snapshot.files import load_files

STEP_FILES = ("01-add-subsets.yaml", "02-virtualservices.yaml", "03-remove-subsets.yaml")


def make_plan(change_files: list[str], base_files: list[str], offline: bool, kube: KubeOptions,
              write_dir: str | None, cluster_domain: str) -> PlanReport:
    if not change_files:
        raise UsageError("plan needs the change: -f CHANGE.yaml")
    if offline and not base_files:
        raise UsageError("--offline plan needs the world the change lands on: --base FILES")
    namespace = kube.namespace or "default"
    if offline:
        from kubectl_meshdoctor.run.host import offline_snapshot

        base = offline_snapshot(load_files(base_files, namespace))
        source = "files: " + ", ".join(base_files)
    else:
        base, namespace, source = _live_base(kube)
    change = ChangeSet(base, load_files(change_files, namespace).objects)
    settings = read_mesh_settings(base, cluster_domain)
    result = plan(change, settings)
    names = STEP_FILES if len(result.steps) > 1 else ("change.yaml",)
    directory = Path(write_dir) if write_dir else None
    files = tuple(str(directory / name) if directory else name for name in names[:len(result.steps)])
    if len(result.steps) == 1 and not directory:
        files = (" -f ".join(change_files),)
    if directory:
        directory.mkdir(parents=True, exist_ok=True)
        for step, path in zip(result.steps, files, strict=True):
            Path(path).write_text(yaml.safe_dump_all(list(step.objects), sort_keys=False))
    findings = tuple(unsafe_apply_order.findings(hazard_problems(result)))
    return PlanReport(source, result, findings, files, bool(directory))


def _live_base(kube: KubeOptions) -> tuple[Any, str, str]:
    from kubectl_meshdoctor.snapshot.live import LiveReader

    reader = LiveReader.open(kube)
    base = execute(reader, ReadPlan(HOST_ROUNDS[:1], MODEL), Seen(reader.snapshot(), reader.namespace))
    return base, reader.namespace, f"live cluster (context {reader.context})"
