"""The benchmark's floor must ask for what a `host` run asks for (not a timing test: see bench/)."""

from __future__ import annotations

from bench.generate import make_world
from bench.run import floor_commands


def resources_of(path: str) -> str:
    return path.rstrip("/").split("/")[-1]


def test_floor_commands_read_exactly_the_collections_a_host_run_reads(live):
    cluster = live(make_world(100))
    assert cluster.run("host", "svc-0", "-n", "ns-0").exit_code in (0, 1)
    read = {(resources_of(r.path), r.query.get("labelSelector", ""), r.query.get("fieldSelector", ""))
            for r in cluster.cluster.requests if r.path not in ("/version", "/apis")}
    floor = set()
    for cmd in floor_commands("kubeconfig"):
        if "logs" in cmd:  # kubectl logs -l: lists the pods, then reads each one's log
            floor |= {("pods", cmd[cmd.index("-l") + 1], ""), ("log", "", "")}
            continue
        args = cmd[cmd.index("get") + 1:]
        label = args[args.index("-l") + 1] if "-l" in args else ""
        field = args[args.index("--field-selector") + 1] if "--field-selector" in args else ""
        floor |= {(name.split(".")[0], label, field) for name in args[0].split(",")}
    assert read == floor
