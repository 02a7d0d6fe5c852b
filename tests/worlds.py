"""The scenario worlds: each scenario file with the ground files it is laid on.

One definition, used by the live/offline parity on the real API server and by the report contract
test, so both walk the same worlds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubectl_meshdoctor.checks.catalogue import CATALOGUE
from tests.conftest import BASE, EXAMPLES, SCENARIOS

GROUND_NAMES = {"base.yaml", "ground.yaml", "ground-1.4.yaml", "ground-current.yaml", "services.yaml", "gateways.yaml",
                "reviews.yaml", "base-routing.yaml"}
ROUTING_GROUND = [SCENARIOS / "routing" / "services.yaml", SCENARIOS / "routing" / "gateways.yaml"]
GROUNDS = {
    "workloads": [BASE], "ports": [BASE], "routing": [BASE, *ROUTING_GROUND],
    "subsets": [BASE, SCENARIOS / "workloads" / "ready.yaml"],
    "plan": [BASE, SCENARIOS / "workloads" / "ready.yaml"],
    "ingress": [BASE, SCENARIOS / "ingress" / "ground.yaml"],
    "http10": [BASE, SCENARIOS / "http10" / "reviews.yaml"],
    "inputs": [BASE],
    "ambient": [SCENARIOS / "ambient" / "ground.yaml"],
    "gatewayapi": [BASE, SCENARIOS / "workloads" / "ready.yaml", SCENARIOS / "gatewayapi" / "ground.yaml"],
}


def ground(path: Path) -> list[Path]:
    family = path.parent.name
    if family == "tls":
        return [SCENARIOS / "tls" / ("ground-1.4.yaml" if "1.4" in path.name else "ground.yaml")]
    if family == "tcp":
        return [SCENARIOS / "tcp" / ("ground-1.4.yaml" if "file-certs" in path.name else "ground-current.yaml")]
    return GROUNDS[family]


def world_files(scenario: Path) -> list[Path]:
    return [*ground(scenario), scenario]


SCENARIO_WORLDS = sorted(p for p in SCENARIOS.glob("*/*.yaml")
                         if p.name not in GROUND_NAMES and p.parent.name != "symptoms")
EXAMPLE_WORLDS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
PLAN = SCENARIOS / "plan"  # `plan` changes, laid on PLAN_BASE
PLAN_BASE = [BASE, SCENARIOS / "workloads" / "ready.yaml", PLAN / "base-routing.yaml"]


def world_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


LIVE_ONLY = {e.code for e in CATALOGUE if e.live}  # logs, probes, restarts: not in files
ANSWERED = ("passed", "failed")


def findings_by_host(doc: dict[str, Any], other: dict[str, Any]) -> dict[str, set[tuple[Any, ...]]]:
    """Findings per host of a `scan -o json`, of the checks both runs answered."""
    answered_elsewhere = {(r["target"]["host"], c["code"]) for r in other["reports"] for c in r["checks"]
                          if c["status"] in ANSWERED}
    return {r["target"]["host"]: {(f["code"], f["port"], f["subset"], f["clientNamespace"],
                                   tuple(sorted((x["kind"], x["namespace"], x["name"]) for x in f["resources"])))
                                  for f in r["findings"] if f["code"] not in LIVE_ONLY
                                  and (r["target"]["host"], f["code"]) in answered_elsewhere}
            for r in doc["reports"] if r["target"]["host"] != "kubernetes.default.svc.cluster.local"}
