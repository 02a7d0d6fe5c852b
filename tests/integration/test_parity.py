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

import pytest

from tests.conftest import objects_of, offline, run_cli
from tests.worlds import SCENARIO_WORLDS, findings_by_host, world_files

NOT_THROUGH_THE_API = {
    "workloads/garbage": "malformed objects on purpose; the API server refuses them before anything is stored",
    "workloads/native-sidecar": "Kubernetes 1.20 drops initContainers[].restartPolicy (native sidecars are 1.28+)",
}
WORLDS = [p for p in SCENARIO_WORLDS
          if "creationTimestamp" not in p.read_text() and f"{p.parent.name}/{p.stem}" not in NOT_THROUGH_THE_API]


@pytest.mark.parametrize("scenario", WORLDS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_live_and_offline_reports_agree(real, scenario):
    files = world_files(scenario)
    real.load_world(objects_of(files))
    from_files = run_cli("scan", "-A", "-o", "json", *offline(*files))
    live = run_cli("scan", "-A", "-o", "json", "--kubeconfig", str(real.kubeconfig("plugin")))
    assert "Traceback" not in live.stderr + from_files.stderr, live.stderr + from_files.stderr
    live_doc, offline_doc = live.json(), from_files.json()
    assert findings_by_host(live_doc, offline_doc) == findings_by_host(offline_doc, live_doc)


def test_the_parity_worlds_cover_every_family():
    assert {p.parent.name for p in WORLDS} == {"workloads", "ports", "routing", "subsets", "plan", "ingress",
                                               "tls", "http10", "tcp", "inputs", "ambient", "gatewayapi"}
