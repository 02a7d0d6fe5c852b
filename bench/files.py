"""The file side of the benchmark (issue 22): what replaying a cluster from files costs.

1. A 3,000-pod snapshot round trip: `snapshot -A` (YAML, then JSON) from the fake API server, then
   `scan -A --offline -f dump` of each; peak RSS of every step.
2. A `kind: List` of about 50 MB, shaped like `kubectl get all -A -o yaml` (pods carry managedFields,
   as a real server writes them): the time and peak RSS of `host --offline -f` on it, as YAML and as JSON.

One command: `.venv/bin/python -m bench.files --results bench/FILES.md`. The last line says which
targets hold (round trip under 300 MiB; the 50 MB List read in under 15 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.generate import make_world
from bench.run import ROOT, SCRIPT, timed
from bench.servers import fake_server

ROUND_TRIP_PODS = 3000
LIST_MB = 50
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
TARGETS = {"round_trip_rss_mb": 300, "list_seconds": 15}


def managed_fields(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The two entries a real server keeps on a pod (kube-controller-manager's create, the kubelet's status
    update), in the fieldsV1 shape: a tree of `f:` keys mirroring the fields each manager owns."""
    def owned(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {f"f:{k}": owned(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return {f'k:{{"name":"{x.get("name", i)}"}}' if isinstance(x, dict) else f'v:"{x}"':
                    owned(x) if isinstance(x, dict) else {} for i, x in enumerate(obj)}
        return {}
    stamp = "2026-11-20T10:00:00Z"
    return [{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager", "operation": "Update",
             "time": stamp, "fieldsV1": {"f:metadata": owned(pod["metadata"]), "f:spec": owned(pod["spec"])}},
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubelet", "operation": "Update",
             "subresource": "status", "time": stamp, "fieldsV1": {"f:status": owned(pod["status"])}}]


def big_list(megabytes: int) -> dict[str, Any]:
    """A world whose YAML is about `megabytes` MB: its size per pod measured on 1,000 pods, then scaled."""
    def world(pods: int) -> dict[str, Any]:
        items = make_world(pods)
        for obj in items:
            if obj["kind"] == "Pod":
                obj["metadata"]["managedFields"] = managed_fields(obj)
        return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
    sample = len(yaml.dump(world(1000), Dumper=DUMPER, sort_keys=False))
    return world(int(1000 * megabytes * 1e6 / sample) // 10 * 10)


def write_lists(folder: Path) -> None:
    """Run in a process of its own: a child inherits its parent's peak RSS, so the measured runs must
    not be started from the process that held this world."""
    world = big_list(LIST_MB)
    with (folder / "list.yaml").open("w") as out:
        yaml.dump(world, out, Dumper=DUMPER, sort_keys=False)
    with (folder / "list.json").open("w") as out:
        json.dump(world, out, separators=(",", ":"))
    service = next(o["metadata"] for o in world["items"] if o["kind"] == "Service")
    (folder / "host").write_text(f"{service['name']} {service['namespace']} "
                                 f"{sum(o['kind'] == 'Pod' for o in world['items'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", help="also write the table to this Markdown file")
    parser.add_argument("--write-lists", help=argparse.SUPPRESS)  # the child that writes the big List
    args = parser.parse_args()
    if args.write_lists:
        write_lists(Path(args.write_lists))
        return
    tmp = Path(tempfile.mkdtemp())
    rows: list[tuple[str, str, float, float, float]] = []  # (what, format, MB, seconds, RSS MiB)
    with fake_server(ROUND_TRIP_PODS) as served:
        for fmt in ("yaml", "json"):
            dump = tmp / f"dump.{fmt}"
            with dump.open("w") as out:
                wall, rss, _ = timed([str(SCRIPT), "snapshot", "-A", "-o", fmt, "--kubeconfig", served.kubeconfig],
                                     stdout=out)
            rows.append((f"snapshot -A ({ROUND_TRIP_PODS:,} pods)", fmt, dump.stat().st_size / 1e6, wall, rss))
            wall, rss, _ = timed([str(SCRIPT), "scan", "-A", "--offline", "-f", str(dump), "-o", "json"])
            rows.append(("scan -A --offline -f dump", fmt, dump.stat().st_size / 1e6, wall, rss))
    subprocess.run([sys.executable, "-m", "bench.files", "--write-lists", str(tmp)], check=True, cwd=ROOT)
    name, namespace, pods = (tmp / "host").read_text().split()
    for fmt in ("yaml", "json"):
        path = tmp / f"list.{fmt}"
        wall, rss, code = timed([str(SCRIPT), "host", name, "-n", namespace, "--offline", "-f", str(path)])
        if code == 2:
            raise SystemExit(f"{path} was refused (exit 2): the List must be read to be measured")
        rows.append((f"host --offline -f List ({int(pods):,} pods)", fmt, path.stat().st_size / 1e6, wall, rss))
    lines = ["| run | format | file MB | wall | peak RSS |", "|---|---|---|---|---|"]
    lines += [f"| {what} | {fmt} | {mb:.1f} | {s:.2f} s | {rss:.0f} MiB |" for what, fmt, mb, s, rss in rows]
    round_trip = [r for r in rows if r[0].startswith(("snapshot", "scan"))]
    lists = [r for r in rows if r[0].startswith("host")]
    verdicts = {f"{ROUND_TRIP_PODS:,}-pod snapshot round trip under {TARGETS['round_trip_rss_mb']} MiB":
                all(r[4] < TARGETS["round_trip_rss_mb"] for r in round_trip),
                f"{LIST_MB} MB List read in under {TARGETS['list_seconds']} s":
                all(r[3] < TARGETS["list_seconds"] for r in lists)}
    lines += ["", "Targets: " + "; ".join(f"{k}: {'met' if ok else 'NOT MET'}" for k, ok in verdicts.items())]
    text = "\n".join(lines)
    print(text)
    if args.results:
        Path(args.results).write_text(
            f"# Files: snapshot round trip and large Lists\n\nMachine: {os.cpu_count()} cores; "
            f"{time.strftime('%Y-%m-%d')}."
            f" Reproduce: `.venv/bin/python -m bench.files --results bench/FILES.md`. The fake API server runs in a "
            "process of its own; RSS is the peak of the meshdoctor process.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
