"""`plan -f CHANGE`: the make-before-break order for applying a change, and what one-shot apply risks.

Reads the world the change lands on (the live cluster, or --offline files given with --base), lays
the change over it, and prints the steps with the objects and the `kubectl apply` of each. It never
applies anything itself; with --write-dir it writes one file per step for the user to apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubectl_meshdoctor.checks.reconfiguration import hazard_findings
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.errors import UsageError
from kubectl_meshdoctor.mesh.changes import ChangeSet, Plan, plan
from kubectl_meshdoctor.mesh.settings import read_mesh_settings
from kubectl_meshdoctor.report.model import Finding
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.files import load_files

STEP_FILES = ("01-add-subsets.yaml", "02-virtualservices.yaml", "03-remove-subsets.yaml")


@dataclass(frozen=True)
class PlanReport:
    source: str
    plan: Plan
    findings: tuple[Finding, ...]
    files: tuple[str, ...]  # one per step, where the step objects are (written or to write)
    written: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "meshdoctor/v1", "kind": "Plan", "source": self.source,
            "oneShotSafe": self.plan.one_shot_safe, "stepFilesWritten": self.written,
            "steps": [{"step": i, "title": step.title, "why": list(step.why), "wait": step.wait or None,
                       "command": f"kubectl apply -f {path}",
                       "objects": [{"kind": o.kind(obj), "namespace": o.namespace(obj), "name": o.name(obj)}
                                   for obj in step.objects]}
                      for i, (step, path) in enumerate(zip(self.plan.steps, self.files, strict=True), 1)],
            "findings": [f.to_dict() for f in self.findings],
        }


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
    return PlanReport(source, result, tuple(hazard_findings(result)), files, bool(directory))


def _live_base(kube: KubeOptions) -> tuple[Any, str, str]:
    from kubectl_meshdoctor.snapshot.live import LiveReader

    reader = LiveReader.open(kube)
    return reader.snapshot((), "live"), reader.namespace, f"live cluster (context {reader.context})"
