"""Output formats: the JSON contract of FINDINGS.md, yaml, kubectl-style jsonpath, markdown and text."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.conftest import EXAMPLES, offline, run_cli

DEMO = ("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"))
ANSI = re.compile(r"\x1b\[")


def test_json_follows_the_report_contract():
    result = run_cli(*DEMO, "-o", "json")
    doc = result.json()
    assert doc["apiVersion"] == "meshdoctor/v1" and doc["kind"] == "Report"
    assert doc["target"] == {"input": "reviews", "host": "reviews.bookinfo.svc.cluster.local", "namespace": "bookinfo"}
    assert doc["source"] == {"mode": "offline", "context": None,
                             "istio": {"version": "1.22.3", "autoMtls": True, "rootNamespace": "istio-system"}}
    statuses = [c["status"] for c in doc["checks"]]
    assert doc["summary"] == {"error": 2, "warning": 1, "info": 0, "checksPassed": statuses.count("passed"),
                              "checksSkipped": statuses.count("skipped"), "suppressed": 0}
    assert statuses.count("failed") == len({f["code"] for f in doc["findings"]})
    for check in doc["checks"]:
        assert set(check) <= {"id", "code", "status", "reason"} and check["status"] in (
            "failed", "passed", "skipped", "not-run")
    contract_keys = {"id", "code", "severity", "title", "message", "host", "port", "subset", "clientNamespace",
                     "resources", "evidence", "remediation", "docs"}
    for finding in doc["findings"]:
        assert set(finding) == contract_keys
        assert all(set(r) == {"kind", "namespace", "name", "role"} for r in finding["resources"])
        assert finding["remediation"] and all(isinstance(s, str) for s in finding["remediation"])
        assert all(d.startswith("https://istio.io/") for d in finding["docs"])
    assert result.exit_code == 1


def test_yaml_is_the_same_document_as_json():
    as_json = run_cli(*DEMO, "-o", "json")
    as_yaml = run_cli(*DEMO, "-o", "yaml")
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)
    assert as_yaml.exit_code == as_json.exit_code == 1


def test_jsonpath_prints_the_finding_ids():
    result = run_cli(*DEMO, "-o", "jsonpath={.findings[*].id}")
    assert result.stdout == "vs-mesh-duplicate-host service-no-ready-endpoints pod-without-sidecar"
    assert result.exit_code == 1


def test_jsonpath_range_and_quoted_text():
    result = run_cli(*DEMO, "-o", 'jsonpath={range .findings[*]}{.code}{"\\t"}{.severity}{"\\n"}{end}')
    assert result.stdout == "MD101\terror\nMD506\terror\nMD502\twarning\n"


def test_jsonpath_filter_expression():
    result = run_cli(*DEMO, "-o", 'jsonpath={.findings[?(@.severity=="warning")].code}')
    assert result.stdout == "MD502"


@pytest.mark.parametrize(("template", "why"), [
    ("{.findings[", "unbalanced braces"),
    ("{.findings[*].code", "unbalanced braces"),
    ("x}", "unbalanced braces"),
    ("{range .findings[*]}{.code}", "{range} without {end}"),
    ("{.findings[?(@.severity==}", "cannot parse"),
])
def test_a_jsonpath_template_that_cannot_be_parsed_is_a_usage_error(template, why):
    """Never the template echoed back with exit 0 (kubectl says `error parsing jsonpath`)."""
    result = run_cli(*DEMO, "-o", f"jsonpath={template}")
    assert result.exit_code == 2 and result.stdout == "" and why in result.stderr


def test_markdown_has_a_table_and_each_finding():
    text = run_cli(*DEMO, "-o", "markdown").stdout
    assert "| | Check | Code | Result |" in text
    assert "#### ✗ MD506 `service-no-ready-endpoints` (error)" in text
    assert "1. See why the pods are not ready" in text


def test_text_report_reads_top_down_without_colour_when_piped():
    result = run_cli(*DEMO)
    out = result.stdout
    assert not ANSI.search(out)
    lines = out.splitlines()
    assert lines[3].startswith("✗ 2 errors, 1 warning — traffic to this host is failing")  # the verdict leads
    # problems by impact: no ready endpoint (every request fails) before the ignored VirtualService (an
    # error too, but of configuration) and the pod without a sidecar (a warning)
    assert out.index("✗ MD506 service-no-ready-endpoints") < out.index("✗ MD101 vs-mesh-duplicate-host") \
        < out.index("‼ MD502 pod-without-sidecar") < out.index("✓ 24 checks passed")
    assert out.index("✓ 24 checks passed") < 60 * 120 and len(lines[:lines.index(next(
        line for line in lines if line.startswith("✓ 24 checks passed")))]) <= 50  # one screen above it
    assert "Objects: Service bookinfo/reviews" in out
    assert "✓ Gateway fragments for a host do not overlap" not in out  # passing checks collapsed...
    verbose = run_cli(*DEMO, "--verbose").stdout
    assert "✓ Gateway fragments for a host do not overlap  MD102" in verbose  # ...unless asked for
    assert "· Every subset selects ready pods  MD302  not-run: superseded: MD506" in verbose
    assert not any(line != line.rstrip() for line in out.splitlines())


def test_colour_only_when_asked_and_never_with_no_color():
    coloured = run_cli(*DEMO, env={"FORCE_COLOR": "1"})
    assert ANSI.search(coloured.stdout)
    assert not ANSI.search(run_cli(*DEMO, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout)
    assert not ANSI.search(run_cli(*DEMO, "--no-color", env={"FORCE_COLOR": "1"}).stdout)


def test_machine_output_never_goes_through_rich_wrapping():
    out = run_cli(*DEMO, "-o", "json").stdout
    assert max(len(line) for line in out.splitlines()) > 120  # long messages stay on one line
    json.loads(out)


def test_checks_catalogue_and_explain():
    listed = run_cli("checks", "-o", "json").json()["checks"]
    by_code = {c["code"]: c for c in listed}
    assert by_code["MD506"]["status"] == "available" and by_code["MD601"]["status"] == "available"
    live_evidence = ("MD303", "MD601", "MD602", "MD603", "MD604", "MD701", "MD702", "MD703")
    assert {by_code[code]["status"] for code in live_evidence} == {"available"}
    assert by_code["MD601"]["liveOnly"] is True
    explained = run_cli("explain", "pod-without-sidecar", "-o", "json").json()
    assert explained["code"] == "MD502" and explained["fix"] and explained["docs"]
    text = run_cli("explain", "MD201").stdout
    assert "Why it breaks traffic:" in text and "How to fix:" in text and "IST0113" in text


def test_version_is_plain_and_needs_no_cluster():
    result = run_cli("version", "--kubeconfig", "/nonexistent")
    assert result.exit_code == 0 and result.stdout.startswith("kubectl-meshdoctor ")
    assert run_cli("version", "-o", "json").json()["version"]
