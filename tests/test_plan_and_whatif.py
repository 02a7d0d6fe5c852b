"""`plan -f CHANGE` (make-before-break order, MD304) and what-if marking of `host -f CHANGE`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE, SCENARIOS, objects_of, offline, run_cli

PLAN = SCENARIOS / "plan"
WORLD = [BASE, SCENARIOS / "workloads" / "ready.yaml", PLAN / "base-routing.yaml"]
MODES = ("offline", "live")


def plan(mode: str, live, change: str, *extra: str):
    args = ["plan", "-f", str(PLAN / f"{change}.yaml"), "-n", "bookinfo", "-o", "json", *extra]
    if mode == "offline":
        result = run_cli(*args, "--offline", *(a for p in WORLD for a in ("--base", str(p))))
    else:
        result = live(objects_of(WORLD)).run(*args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.json(), result.exit_code


def step_kinds(doc: dict) -> list[list[str]]:
    return [[f"{o['kind']} {o['name']}" for o in step["objects"]] for step in doc["steps"]]


@pytest.mark.parametrize("mode", MODES)
def test_adding_a_subset_and_routing_to_it_goes_destinationrule_first(mode, live):
    doc, code = plan(mode, live, "add-v3")
    assert step_kinds(doc) == [["DestinationRule reviews"], ["VirtualService reviews"]]
    assert doc["steps"][0]["wait"] and "SYNCED" in doc["steps"][0]["wait"]
    assert doc["oneShotSafe"] is False
    [finding] = [f for f in doc["findings"] if f["code"] == "MD304"]
    assert finding["subset"] == "v3" and finding["evidence"]["hazard"] == "503 window during apply"
    # and in the end state no pod is labelled v3 in this world: the host checks say so too
    assert [(f["code"], f["subset"]) for f in doc["findings"] if f["code"] != "MD304"] == [("MD302", "v3")]
    assert code == 1


@pytest.mark.parametrize("mode", MODES)
def test_removing_a_subset_and_its_route_goes_virtualservice_first(mode, live):
    doc, code = plan(mode, live, "remove-v1")
    assert step_kinds(doc) == [["VirtualService reviews"], ["DestinationRule reviews"]]
    assert doc["steps"][0]["wait"]
    assert [f["subset"] for f in doc["findings"]] == ["v1"]
    assert code == 1


@pytest.mark.parametrize("mode", MODES)
def test_harmless_change_is_one_step_and_exit_zero(mode, live):
    doc, code = plan(mode, live, "harmless")
    assert len(doc["steps"]) == 1 and doc["oneShotSafe"] is True and doc["findings"] == []
    assert code == 0


def test_a_route_to_a_subset_nobody_defines_is_never_safe():
    doc, code = plan("offline", None, "route-to-nowhere")
    [finding] = doc["findings"]
    assert finding["evidence"]["hazard"] == "never safe" and finding["subset"] == "v9"
    assert code == 1


def test_write_dir_writes_one_file_per_step_with_the_union_while_removing(tmp_path: Path):
    both = tmp_path / "change.yaml"
    both.write_text((PLAN / "add-v3.yaml").read_text().replace(
        "{name: v1, labels: {version: v1}}, ", ""))  # adds v3 and drops v1 in one rule
    out = tmp_path / "steps"
    result = run_cli("plan", "-f", str(both), "-n", "bookinfo", "--offline", "--write-dir", str(out),
                     *(a for p in WORLD for a in ("--base", str(p))))
    files = sorted(p.name for p in out.iterdir())
    assert files == ["01-add-subsets.yaml", "02-virtualservices.yaml", "03-remove-subsets.yaml"]
    during = yaml.safe_load((out / "01-add-subsets.yaml").read_text())
    assert [s["name"] for s in during["spec"]["subsets"]] == ["v2", "v3", "v1"]  # v1 kept until routes move
    final = yaml.safe_load((out / "03-remove-subsets.yaml").read_text())
    assert [s["name"] for s in final["spec"]["subsets"]] == ["v2", "v3"]
    assert f"kubectl apply -f {out / '01-add-subsets.yaml'}" in result.stdout


def test_plan_text_lists_steps_and_commands():
    result = run_cli("plan", "-f", str(PLAN / "add-v3.yaml"), "-n", "bookinfo", "--offline",
                     *(a for p in WORLD for a in ("--base", str(p))))
    out = result.stdout
    assert "Apply in 2 steps (make-before-break)" in out
    assert out.index("DestinationRule bookinfo/reviews") < out.index("VirtualService bookinfo/reviews")
    assert "$ kubectl apply -f 01-add-subsets.yaml" in out and "Why not everything at once" in out


# ----------------------------------------------------------------------------------------- what-if

def test_what_if_marks_new_findings_and_lists_resolved_ones(live):
    cluster = live(objects_of(WORLD))
    broken = cluster.run("host", "reviews", "-n", "bookinfo", "-f", str(PLAN / "vs-only-v3.yaml"), "-o", "json").json()
    assert broken["source"]["mode"] == "overlay"
    [missing] = [f for f in broken["findings"] if f["code"] == "MD301"]
    assert missing["change"] == "new" and missing["subset"] == "v3"
    assert broken["resolved"] == []

    world = [*objects_of(WORLD[:2]), *objects_of([PLAN / "vs-only-v3.yaml"]),
             *[o for o in objects_of([PLAN / "base-routing.yaml"]) if o["kind"] == "DestinationRule"]]
    fixing = live(world).run("host", "reviews", "-n", "bookinfo", "-f", str(PLAN / "add-v3.yaml"), "-o", "json")
    doc = fixing.json()
    assert [f["code"] for f in doc["resolved"]] == ["MD301"]
    assert not [f for f in doc["findings"] if f["code"] == "MD301"]
    # the route was already live, so no new window; but no pod has version v3 yet: 503 UH, new
    [empty] = [f for f in doc["findings"] if f["change"] == "new"]
    assert (empty["code"], empty["subset"]) == ("MD302", "v3")


def test_offline_what_if_with_base_marks_and_resolves_as_the_live_one_does(tmp_path: Path, live):
    """`host --offline --base WORLD -f CHANGE`: the same what-if as `host -f CHANGE` on a cluster holding
    WORLD (the live test above), from files only, e.g. a snapshot taken during an incident."""
    base = [a for p in WORLD for a in ("--base", str(p))]
    broken = run_cli("host", "reviews", "-n", "bookinfo", "--offline", *base, "-f", str(PLAN / "vs-only-v3.yaml"),
                     "-o", "json")
    doc = broken.json()
    [missing] = [f for f in doc["findings"] if f["code"] == "MD301"]
    assert missing["change"] == "new" and missing["subset"] == "v3" and doc["resolved"] == []
    on_cluster = live(objects_of(WORLD)).run("host", "reviews", "-n", "bookinfo", "-f", str(PLAN / "vs-only-v3.yaml"),
                                             "-o", "json").json()
    marks = [(f["code"], f["subset"], f["change"]) for f in doc["findings"]]
    assert marks == [(f["code"], f["subset"], f["change"]) for f in on_cluster["findings"]]
    assert any("laid over the world of" in note for note in doc["notes"]) and broken.exit_code == 1

    before = tmp_path / "before.yaml"  # the route to v3 is live, the subset is not defined yet
    before.write_text(yaml.safe_dump_all([*objects_of(WORLD[:2]), *objects_of([PLAN / "vs-only-v3.yaml"]),
                                          *[o for o in objects_of([PLAN / "base-routing.yaml"])
                                            if o["kind"] == "DestinationRule"]]))
    fixing = run_cli("host", "reviews", "-n", "bookinfo", "--offline", "--base", str(before),
                     "-f", str(PLAN / "add-v3.yaml"), "-o", "json").json()
    assert [f["code"] for f in fixing["resolved"]] == ["MD301"]
    [empty] = [f for f in fixing["findings"] if f["change"] == "new"]
    assert (empty["code"], empty["subset"]) == ("MD302", "v3")
    text = run_cli("host", "reviews", "-n", "bookinfo", "--offline", "--base", str(before),
                   "-f", str(PLAN / "add-v3.yaml")).stdout
    assert "Resolved by the change" in text and "[new] MD302" in text


@pytest.mark.parametrize("args, error", [
    (("--base", str(BASE), "-f", str(PLAN / "add-v3.yaml")), "--base is for --offline runs"),
    (("--offline", "--base", str(BASE)), "--base is the world a change lands on: give the change with -f")])
def test_base_without_offline_or_without_a_change_is_a_usage_error(args, error):
    result = run_cli("host", "reviews", "-n", "bookinfo", *args)
    assert result.exit_code == 2 and error in result.stderr


def test_what_if_text_marks_each_finding(live):
    cluster = live(objects_of(WORLD))
    out = cluster.run("host", "reviews", "-n", "bookinfo", "-f", str(PLAN / "vs-only-v3.yaml")).stdout
    assert "✗ [new] MD301 subset-not-defined" in out
    assert "VirtualService bookinfo/reviews http rule #1 sends clients in bookinfo to subset v3" in out


def test_each_written_file_is_named_after_its_own_step(tmp_path: Path):
    """A change that only moves routes off a subset and then drops it has no add step: its first file
    holds the VirtualServices and is named so, not `01-add-subsets.yaml`."""
    out = tmp_path / "steps"
    run_cli("plan", "-f", str(PLAN / "remove-v1.yaml"), "-n", "bookinfo", "--offline", "--write-dir", str(out),
            *(a for p in WORLD for a in ("--base", str(p))))
    written = {p.name: [d["kind"] for d in yaml.safe_load_all(p.read_text())] for p in sorted(out.iterdir())}
    for name, kinds in written.items():
        expected = {"virtualservices": {"VirtualService"}, "add-subsets": {"DestinationRule"},
                    "remove-subsets": {"DestinationRule"}}[name[3:-5]]
        assert set(kinds) <= expected, (name, kinds)
    assert next(iter(written)) == "01-virtualservices.yaml"


@pytest.mark.parametrize("mode", MODES)
def test_plan_judges_the_end_state_with_the_host_checks(mode, live):
    """The steps are in a safe order, but the result routes 20% to a subset with no pod: plan says so,
    with the same finding `host` gives on the end state, and exits 1."""
    doc, code = plan(mode, live, "canary-no-pods")
    [finding] = [f for f in doc["findings"] if f["code"] == "MD302"]
    assert finding["subset"] == "v3" and finding["severity"] == "error"
    assert code == 1
    assert [s["title"] for s in doc["steps"]][:2] == ["Add the new subsets (DestinationRules first)",
                                                      "Update the routes (VirtualServices)"]
    files = [BASE, SCENARIOS / "workloads" / "ready.yaml", PLAN / "base-routing.yaml", PLAN / "canary-no-pods.yaml"]
    host = run_cli("host", "reviews", "-n", "bookinfo", *offline(*files), "-o", "json").json()
    assert [f["subset"] for f in host["findings"] if f["code"] == "MD302"] == ["v3"]


@pytest.mark.parametrize("mode", MODES)
def test_a_harmless_change_stays_clean_in_the_end_state(mode, live):
    doc, code = plan(mode, live, "harmless")
    assert doc["findings"] == [] and code == 0
