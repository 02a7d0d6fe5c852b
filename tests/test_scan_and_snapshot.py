"""`scan` (every host, one read) and `snapshot` (what was read, replayable with --offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubectl_meshdoctor.checks.catalogue import CATALOGUE
from tests.conftest import BASE, EXAMPLES, SCENARIOS, objects_of, offline, run_cli

DEMO = EXAMPLES / "bookinfo"


def test_scan_lists_the_broken_hosts_first():
    result = run_cli("scan", "-A", *offline(DEMO), "-o", "json")
    rows = result.json()["summary"]
    # worst by impact, not by catalogue family: no ready endpoint fails every request, MD101 is a config smell
    assert rows[0] == {"host": "reviews.bookinfo.svc.cluster.local", "errors": 2, "warnings": 1,
                       "worst": "MD506 service-no-ready-endpoints"}
    assert {r["host"] for r in rows} >= {"productpage.bookinfo.svc.cluster.local", "bookinfo.example.com"}
    assert all(r["errors"] == 0 for r in rows[1:])
    assert result.exit_code == 1


def test_scan_reads_the_cluster_once_whatever_the_number_of_hosts(live):
    cluster = live(objects_of([DEMO]))
    result = cluster.run("scan", "-A", "-o", "json")
    assert len(result.json()["reports"]) == 5
    pods = [r for r in cluster.cluster.requests if r.path.endswith("/pods")]
    # every pod once: the gateways' proxies are among them, not listed again by their selector
    assert [(r.path, r.query.get("labelSelector")) for r in pods] == [("/api/v1/pods", None)]
    gateway_hosts = [r for r in result.json()["reports"] if r["target"]["host"] == "bookinfo.example.com"]
    assert gateway_hosts and all(c["status"] == "passed" for r in gateway_hosts for c in r["checks"]
                                 if c["code"] == "MD404")  # gateway-selects-no-pods judged from those pods
    lists = [(r.path, tuple(sorted(r.query.items()))) for r in cluster.cluster.requests]
    assert len(lists) == len(set(lists)) < 30  # each collection once (5 hosts, no per-host reads)
    healthy = live(objects_of([EXAMPLES / "bookinfo-healthy"])).run("scan", "-A")
    assert healthy.exit_code == 0 and "bookinfo.example.com" in healthy.stdout


def findings_key(doc: dict) -> list[tuple]:
    return sorted((f["code"], f["port"], f["subset"], tuple(sorted((r["kind"], r["namespace"], r["name"])
                                                                   for r in f["resources"]))) for f in doc["findings"])


def test_snapshot_round_trips_to_the_same_findings(live, tmp_path: Path):
    for world, host, namespace in ((DEMO, "reviews", "bookinfo"),
                                   (SCENARIOS / "tls", "httpbin", "default")):
        files = [world] if world.is_dir() and world != SCENARIOS / "tls" else [
            world / "ground.yaml", world / "mesh-strict.yaml", world / "guidelines-httpbin.yaml"]
        cluster = live(objects_of(files))
        dump = tmp_path / f"{namespace}.yaml"
        taken = cluster.run("snapshot", "-A", "--output-file", str(dump))
        assert taken.exit_code == 0 and "wrote" in taken.stderr
        live_doc = cluster.run("host", host, "-n", namespace, "-o", "json").json()
        offline_doc = run_cli("host", host, "-n", namespace, *offline(dump), "-o", "json").json()
        assert findings_key(offline_doc) == findings_key(live_doc) and live_doc["findings"]
        live_only = {e.code for e in CATALOGUE if e.live}  # proxy logs and probes: not in a snapshot
        assert {c["code"]: c["status"] for c in offline_doc["checks"] if c["code"] not in live_only} == \
            {c["code"]: c["status"] for c in live_doc["checks"] if c["code"] not in live_only}


def test_snapshot_holds_no_secret_and_only_the_mesh_config_map(live, tmp_path: Path):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "bookinfo"},
              "data": {"k": "c2VjcmV0"}}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "bookinfo"},
             "data": {"password": "hunter2"}}
    cluster = live([*objects_of([DEMO]), secret, other])
    text = cluster.run("snapshot", "-A").stdout  # stdout by default, like kubectl get -o yaml
    assert text.startswith("# meshdoctor snapshot of all namespaces, context fake,")
    items = yaml.safe_load(text)["items"]
    assert not [i for i in items if i["kind"] == "Secret"]
    assert [i["metadata"]["name"] for i in items if i["kind"] == "ConfigMap"] == ["istio"]
    assert "hunter2" not in text


def test_scan_of_a_config_repo_lists_every_host_it_names_and_fails_on_their_errors():
    """No Service in the files: the hosts come from the VirtualServices and DestinationRules (FINDINGS.md
    host input rule 5), so `scan` never says "0 hosts" and a CI gate on it catches the broken routes."""
    result = run_cli("scan", "-A", "-o", "json", *offline(SCENARIOS / "routing" / "config-repo-all-v1.yaml"))
    rows = {r["host"]: r for r in result.json()["summary"]}
    assert set(rows) == {f"{n}.default.svc.cluster.local" for n in ("productpage", "reviews", "ratings", "details")} \
        | {"mongodb.db.svc.cluster.local"}
    assert {h for h, r in rows.items() if r["worst"] == "MD301 subset-not-defined"} == set(rows) - {
        "mongodb.db.svc.cluster.local"}
    assert result.exit_code == 1
    junit = run_cli("scan", "-A", "-o", "junit", *offline(SCENARIOS / "routing" / "config-repo-all-v1.yaml"))
    findings = sum(len(r["findings"]) for r in result.json()["reports"])
    assert junit.exit_code == 1 and junit.stdout.count("<failure ") == findings >= 4


def test_scan_leaves_system_services_out_unless_asked():
    """kube-system's and istiod's Services are not what a scan is for: listed as left out, not scanned."""
    world = [str(SCENARIOS / "base.yaml"), str(SCENARIOS / "workloads" / "system-services.yaml")]
    files = [a for f in world for a in ("-f", f)]
    doc = run_cli("scan", "-A", "--offline", *files, "-o", "json").json()
    assert [r["host"] for r in doc["summary"]] == ["reviews.bookinfo.svc.cluster.local"]
    assert doc["systemHostsLeftOut"] == ["istiod.istio-system.svc.cluster.local",
                                         "kube-dns.kube-system.svc.cluster.local"]
    text = run_cli("scan", "-A", "--offline", *files).stdout
    assert "2 hosts of kube-system and the control plane left out (--include-system scans them)" in text
    everything = run_cli("scan", "-A", "--offline", "--include-system", *files, "-o", "json").json()
    assert {r["host"] for r in everything["summary"]} == {
        "reviews.bookinfo.svc.cluster.local", "istiod.istio-system.svc.cluster.local",
        "kube-dns.kube-system.svc.cluster.local"}
    assert everything["systemHostsLeftOut"] == []


def test_snapshot_output_is_a_format_and_the_file_is_checked_before_reading(live, tmp_path: Path):
    cluster = live(objects_of([DEMO]))
    as_json = cluster.run("snapshot", "-A", "-o", "json")
    assert as_json.exit_code == 0 and {"Service", "Pod"} <= {i["kind"] for i in as_json.json()["items"]}
    wrong = cluster.run("snapshot", "-A", "-o", "dump.yaml")
    assert wrong.exit_code == 2 and "use --output-file dump.yaml" in wrong.stderr
    nowhere = cluster.run("snapshot", "-A", "--output-file", str(tmp_path / "missing" / "x.yaml"))
    assert nowhere.exit_code == 2 and "no such directory" in nowhere.stderr and "Traceback" not in nowhere.stderr
    before = len(cluster.cluster.requests)
    cluster.run("snapshot", "-A", "-o", "yaml=")
    assert len(cluster.cluster.requests) == before  # refused before anything was read


def test_scan_lays_files_over_the_live_state(live):
    """`scan -A -f change.yaml` is a what-if, as `host -f` is: the change's breakage is found live."""
    cluster = live(objects_of([DEMO]))
    plain = cluster.run("scan", "-A", "-o", "json").json()
    change = SCENARIOS / "plan" / "route-to-nowhere.yaml"
    laid = cluster.run("scan", "-A", "-f", str(change), "-o", "json").json()
    [reviews] = [r for r in laid["reports"] if r["target"]["host"] == "reviews.bookinfo.svc.cluster.local"]
    assert "MD301" in {f["code"] for f in reviews["findings"]}
    assert any(n.startswith("files laid over the live state") for n in reviews["notes"])
    [before] = [r for r in plain["reports"] if r["target"]["host"] == "reviews.bookinfo.svc.cluster.local"]
    assert "MD301" not in {f["code"] for f in before["findings"]}


def test_a_large_scan_split_among_workers_reports_exactly_what_one_process_does(tmp_path):
    """Past PARALLEL_FROM hosts a scan forks workers (run/parallel.py); the report must not depend on it."""
    import json

    from bench.generate import make_world
    from kubectl_meshdoctor.run.parallel import PARALLEL_FROM

    world = make_world(PARALLEL_FROM * 10 + 100)  # ten pods per Service: one host more than the threshold
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": world}))
    alone = run_cli("scan", "-A", "-o", "json", *offline(path), env={"MESHDOCTOR_JOBS": "1"})
    split = run_cli("scan", "-A", "-o", "json", *offline(path), env={"MESHDOCTOR_JOBS": "2"})
    assert len(alone.json()["reports"]) > PARALLEL_FROM
    assert split.stdout == alone.stdout and split.exit_code == alone.exit_code


def _fails_in_workers(parent: int, item: int) -> int:
    import os

    if os.getpid() != parent and item % 7 == 3:
        raise RuntimeError("a worker's bug")
    return item * item


def _fails_everywhere(item: int) -> int:
    if item == 250:
        raise ValueError("item 250")
    return item


def _interrupted_in_the_parent(parent: int, item: int) -> int:
    import multiprocessing
    import os
    import signal
    import time

    if os.getpid() == parent and 100 <= item < 200:  # Ctrl-C: the terminal signals every process of the group
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGINT)
        time.sleep(0.3)  # they are still running when it reaches them
        raise KeyboardInterrupt
    time.sleep(0.001)
    return item


def test_an_interrupted_scan_leaves_no_worker_running_and_no_worker_traceback(monkeypatch, capfd):
    """Ctrl-C reaches every process of the group: the parent stops its workers; they print nothing."""
    import functools
    import multiprocessing
    import os
    import signal

    from kubectl_meshdoctor.run import parallel

    monkeypatch.setenv("MESHDOCTOR_JOBS", "3")
    signalled = []
    monkeypatch.setattr(os, "kill", lambda pid, sig, kill=os.kill: (signalled.append(sig), kill(pid, sig)))
    with pytest.raises(KeyboardInterrupt):  # the parent meets item 100 in its first run, the workers run theirs
        parallel.map_hosts(functools.partial(_interrupted_in_the_parent, os.getpid()),
                           list(range(parallel.PARALLEL_FROM * 4)))
    assert signalled.count(signal.SIGINT) == 2 and multiprocessing.active_children() == []
    assert capfd.readouterr().err == ""


def test_hosts_a_worker_failed_on_are_done_by_the_parent_and_its_errors_surface_there(monkeypatch):
    """A forked worker that fails part-way sends what it finished; the parent does the rest itself, so
    the answer is the serial one, and an error the parent meets too is raised as without workers."""
    import functools
    import os

    from kubectl_meshdoctor.run import parallel

    monkeypatch.setenv("MESHDOCTOR_JOBS", "3")
    items = list(range(parallel.PARALLEL_FROM * 2))
    assert parallel.map_hosts(functools.partial(_fails_in_workers, os.getpid()), items) == [i * i for i in items]
    with pytest.raises(ValueError, match="item 250"):
        parallel.map_hosts(_fails_everywhere, items)


@pytest.mark.parametrize("command", [("snapshot", "-A"), ("plan", "-f", str(SCENARIOS / "plan" / "add-v3.yaml"))])
def test_commands_that_read_the_cluster_show_progress_on_a_terminal_and_only_there(live, command, tmp_path):
    """stderr a terminal: the read's progress is shown there; piped, nothing (stdout stays the output)."""
    import os
    import pty
    import subprocess
    import sys

    cluster = live(objects_of([BASE, SCENARIOS / "workloads" / "ready.yaml"]))
    script = Path(sys.executable).parent / "kubectl-meshdoctor"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "COLUMNS": "120"}
    primary, secondary = pty.openpty()
    with subprocess.Popen([str(script), *command], stdout=subprocess.PIPE, stderr=secondary, env=env) as proc:
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        proc.wait(timeout=60)
    os.close(primary)
    assert b"reading services, Istio configuration, pods and endpoints" in shown or \
        b"reading the mesh config and gateway proxies" in shown  # a fast read may skip the first frame
    piped = subprocess.run([str(script), *command], capture_output=True, env=env, timeout=60, check=False)
    assert b"reading" not in piped.stderr
