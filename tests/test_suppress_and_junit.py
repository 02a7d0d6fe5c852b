"""Suppressions (flag and annotation: listed, never dropped, out of the exit code) and JUnit output."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

from tests.conftest import EXAMPLES, objects_of, offline, run_cli

DEMO = ("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"))


def test_suppress_by_id_and_object_glob_lists_the_finding_and_spares_the_exit_code():
    doc = run_cli(*DEMO, "--suppress", "vs-mesh-duplicate-host=VirtualService/bookinfo/reviews-*", "-o",
                  "json").json()
    assert [f["code"] for f in doc["suppressed"]] == ["MD101"]
    assert doc["suppressed"][0]["suppressedBy"] == "--suppress vs-mesh-duplicate-host=VirtualService/bookinfo/reviews-*"
    assert "MD101" not in [f["code"] for f in doc["findings"]]
    assert doc["summary"]["suppressed"] == 1
    md101 = next(c for c in doc["checks"] if c["code"] == "MD101")
    assert md101 == {"id": "vs-mesh-duplicate-host", "code": "MD101", "status": "passed",
                     "reason": "1 finding(s) suppressed"}
    everything = ("--suppress", "MD101", "--suppress", "MD506", "--suppress", "MD5*")
    result = run_cli(*DEMO, *everything)
    assert result.exit_code == 0 and "Suppressed (3): not counted in the exit code" in result.stdout


def test_a_suppression_that_matches_other_objects_does_not_apply():
    doc = run_cli(*DEMO, "--suppress", "MD101=VirtualService/other-namespace/*", "-o", "json").json()
    assert doc["suppressed"] == [] and "MD101" in [f["code"] for f in doc["findings"]]


def test_annotation_on_an_involved_object_suppresses(live):
    objects = objects_of([EXAMPLES / "bookinfo"])
    for obj in objects:
        if obj["kind"] == "VirtualService" and obj["metadata"]["name"] == "reviews-jason":
            obj["metadata"]["annotations"] = {"meshdoctor.io/suppress": "MD104, vs-mesh-duplicate-host"}
    doc = live(copy.deepcopy(objects)).run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    [suppressed] = doc["suppressed"]
    assert suppressed["suppressedBy"] == "annotation meshdoctor.io/suppress on VirtualService bookinfo/reviews-jason"


def test_malformed_suppression_is_a_usage_error():
    result = run_cli(*DEMO, "--suppress", "MD101=not-a-reference")
    assert result.exit_code == 2 and "Kind/namespace/name" in result.stderr


def test_junit_has_a_case_per_check_and_a_failure_per_finding():
    result = run_cli(*DEMO, "-o", "junit")
    root = ET.fromstring(result.stdout)
    cases = root.findall(".//testcase")
    checks = run_cli(*DEMO, "-o", "json").json()
    assert len(cases) == len(checks["checks"])
    failures = root.findall(".//failure")
    assert sorted(f.get("type") for f in failures) == sorted(f["severity"] for f in checks["findings"])
    assert any("MD506 service-no-ready-endpoints" in c.get("name") for c in cases)
    assert result.exit_code == 1


def test_scan_junit_covers_every_host():
    root = ET.fromstring(run_cli("scan", "-A", *offline(EXAMPLES / "bookinfo"), "-o", "junit").stdout)
    assert {c.get("classname") for c in root.findall(".//testcase")} >= {
        "reviews.bookinfo.svc.cluster.local", "bookinfo.example.com"}
