"""Offline/live parity on a real kube-apiserver: every scenario world, loaded through the API (pods
bound and given their status, Endpoints made by the controller-manager), reports the same findings
live as it does from its files with --offline.

Worlds are `scan -A` runs, so every host of the world is compared at once, check by check where both
runs could answer (a check skipped offline because the files hold no Endpoints, say, has nothing to
agree with). Scenarios whose story is the creation order of objects (their files set
creationTimestamp, which the API server assigns itself) are left out: their order cannot be
reproduced through the API. So are the two below, for the reasons given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_meshdoctor.checks.catalogue import CATALOGUE
from tests.conftest import BASE, SCENARIOS, objects_of, offline, run_cli

LIVE_ONLY = {e.code for e in CATALOGUE if e.live}  # logs, probes, restarts: not in files
GROUND_NAMES = {"base.yaml", "ground.yaml", "ground-1.4.yaml", "ground-current.yaml", "services.yaml", "reviews.yaml",
                "base-routing.yaml"}
GROUNDS = {
    "workloads": [BASE], "ports": [BASE], "routing": [BASE, SCENARIOS / "routing" / "services.yaml"],
    "subsets": [BASE, SCENARIOS / "workloads" / "ready.yaml"],
    "plan": [BASE, SCENARIOS / "workloads" / "ready.yaml"],
    "ingress": [BASE, SCENARIOS / "ingress" / "ground.yaml"],
    "http10": [BASE, SCENARIOS / "http10" / "reviews.yaml"],
}


def ground(path: Path) -> list[Path]:
    family = path.parent.name
    if family == "tls":
        return [SCENARIOS / "tls" / ("ground-1.4.yaml" if "1.4" in path.name else "ground.yaml")]
    if family == "tcp":
        return [SCENARIOS / "tcp" / ("ground-1.4.yaml" if "file-certs" in path.name else "ground-current.yaml")]
    return GROUNDS[family]


NOT_THROUGH_THE_API = {
    "workloads/garbage": "malformed objects on purpose; the API server refuses them before anything is stored",
    "workloads/native-sidecar": "Kubernetes 1.20 drops initContainers[].restartPolicy (native sidecars are 1.28+)",
}
WORLDS = sorted(p for p in SCENARIOS.glob("*/*.yaml")
                if p.name not in GROUND_NAMES and p.parent.name != "symptoms"
                and "creationTimestamp" not in p.read_text()
                and f"{p.parent.name}/{p.stem}" not in NOT_THROUGH_THE_API)
ANSWERED = ("passed", "failed")


def findings_by_host(doc: dict, other: dict) -> dict[str, set[tuple]]:
    """Findings per host, of the checks both runs answered."""
    answered_elsewhere = {(r["target"]["host"], c["code"]) for r in other["reports"] for c in r["checks"]
                          if c["status"] in ANSWERED}
    return {r["target"]["host"]: {(f["code"], f["port"], f["subset"], f["clientNamespace"],
                                   tuple(sorted((x["kind"], x["namespace"], x["name"]) for x in f["resources"])))
                                  for f in r["findings"] if f["code"] not in LIVE_ONLY
                                  and (r["target"]["host"], f["code"]) in answered_elsewhere}
            for r in doc["reports"] if r["target"]["host"] != "kubernetes.default.svc.cluster.local"}


@pytest.mark.parametrize("scenario", WORLDS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_live_and_offline_reports_agree(real, scenario):
    files = [*ground(scenario), scenario]
    real.load_world(objects_of(files))
    from_files = run_cli("scan", "-A", "-o", "json", *offline(*files))
    live = run_cli("scan", "-A", "-o", "json", "--kubeconfig", str(real.kubeconfig("plugin")))
    assert "Traceback" not in live.stderr + from_files.stderr, live.stderr + from_files.stderr
    live_doc, offline_doc = live.json(), from_files.json()
    assert findings_by_host(live_doc, offline_doc) == findings_by_host(offline_doc, live_doc)


def test_the_parity_worlds_cover_every_family():
    assert {p.parent.name for p in WORLDS} == {"workloads", "ports", "routing", "subsets", "plan", "ingress",
                                               "tls", "http10", "tcp"}
