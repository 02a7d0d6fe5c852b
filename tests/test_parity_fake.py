"""Live/offline parity of every scenario world, proved once per world on the fake API server.

The check tests run their worlds from files (--offline); this proves that the same files served by
the fake API server, read through the real client, give the same findings host by host, check by
check where both runs could answer. (The real kube-apiserver suite proves the same through a real
API server: tests/integration/test_parity.py.) Together they replace a live twin of every check test.
"""

from __future__ import annotations

import pytest

from tests.conftest import objects_of, offline, run_cli
from tests.worlds import SCENARIO_WORLDS, findings_by_host, world_files, world_id


@pytest.mark.parametrize("scenario", SCENARIO_WORLDS, ids=world_id)
def test_live_and_offline_reports_agree_on_the_fake_api_server(live, scenario):
    files = world_files(scenario)
    from_files = run_cli("scan", "-A", "-o", "json", *offline(*files))
    served = live(objects_of(files)).run("scan", "-A", "-o", "json")
    assert "Traceback" not in served.stderr + from_files.stderr, served.stderr + from_files.stderr
    live_doc, offline_doc = served.json(), from_files.json()
    assert sorted(r["target"]["host"] for r in live_doc["reports"]) == sorted(r["target"]["host"]
                                                                             for r in offline_doc["reports"])
    assert findings_by_host(live_doc, offline_doc) == findings_by_host(offline_doc, live_doc)
