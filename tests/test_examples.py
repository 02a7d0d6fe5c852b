"""The two example worlds: the broken demo and its healthy twin, offline and live."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES, objects_of, offline, run_cli

HOSTS = ("reviews", "ratings", "details", "productpage", "bookinfo.example.com")


@pytest.mark.parametrize("host", HOSTS)
def test_healthy_bookinfo_is_silent_for_every_host(host, live):
    world = EXAMPLES / "bookinfo-healthy"
    for result in (run_cli("host", host, "-n", "bookinfo", *offline(world), "-o", "json"),
                   live(objects_of([world])).run("host", host, "-n", "bookinfo", "-o", "json")):
        doc = result.json()
        assert doc["findings"] == [], doc["findings"]
        assert {c["status"] for c in doc["checks"]} <= {"passed", "not-run"}
        assert result.exit_code == 0


def test_broken_demo_shows_its_three_problems():
    doc = run_cli("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"), "-o", "json").json()
    assert sorted(f["code"] for f in doc["findings"]) == ["MD101", "MD502", "MD506"]
    [ignored] = [f for f in doc["findings"] if f["code"] == "MD101"]
    assert ignored["evidence"]["ignored"][0]["virtualService"] == "bookinfo/reviews-jason"
