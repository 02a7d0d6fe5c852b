"""The benchmark: `host` and `tls` at 1k, 10k and 50k pods against the fetch floor, as ratios.

One command: `.venv/bin/python -m bench.run` (sizes with `--pods 1000,10000`). Each world is served
by the project's fake API server in a separate process; meshdoctor and kubectl run as real
processes. The floor is kubectl making exactly the requests a `host` run made (derived from the reads
the run records in MESHDOCTOR_STATS, so it cannot drift from the read plan), started together. Medians
of several runs after a warm-up. The last line says whether each target holds.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "kubectl-meshdoctor"
TARGETS = {"host_ratio": 1.5, "analysis_share": 0.10, "rss_mb_50k": 400, "version_s": 0.3}


def serve(pods: int, ready: Any) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.generate import make_world
    from tests.fakeapi.server import FakeApiServer, FakeCluster

    world = make_world(pods)
    counts: dict[str, int] = {}
    for obj in world:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    with FakeApiServer(FakeCluster(world)) as api:
        ready.put((api.url, counts))
        while True:
            time.sleep(3600)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def timed_together(cmds: list[list[str]]) -> float:
    started = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    for p in procs:
        p.wait()
    return time.perf_counter() - started


def floor_commands(kubeconfig: str, stats: dict[str, Any]) -> list[list[str]]:
    """kubectl doing exactly what the run did: its LISTs as the read plan made them (MESHDOCTOR_STATS
    `reads`; plain LISTs of one scope combined into one `kubectl get a,b,c`, as a person would type it,
    which kubectl still sends as one request per type; the others one `kubectl get` each with the same
    selectors; a sampled list as `--raw` with its limit), and `kubectl logs` of the pods whose logs it read."""
    k = ["kubectl", "--kubeconfig", kubeconfig]
    out = []
    plain: dict[str | None, list[str]] = {}
    for read in stats["reads"]:
        resource = f"{read['resource']}.{read['group']}" if read["group"] else read["resource"]
        if read["limit"]:
            base = f"/apis/{read['group']}/v1" if read["group"] else "/api/v1"
            where = f"/namespaces/{read['namespace']}" if read["namespace"] else ""
            out.append([*k, "get", "--raw", f"{base}{where}/{read['resource']}?limit={read['limit']}"])
        elif not read["labelSelector"] and not read["fieldSelector"]:
            plain.setdefault(read["namespace"], []).append(resource)
        else:
            cmd = [*k, "get", resource, *(["-n", read["namespace"]] if read["namespace"] else ["-A"])]
            cmd += ["-l", read["labelSelector"]] if read["labelSelector"] else []
            cmd += ["--field-selector", read["fieldSelector"]] if read["fieldSelector"] else []
            out.append([*cmd, "-o", "json"])
    for namespace, resources in plain.items():
        out.append([*k, "get", ",".join(dict.fromkeys(resources)), *(["-n", namespace] if namespace else ["-A"]),
                    "-o", "json"])
    for log in stats.get("logs", []):
        out.append([*k, "logs", "-n", log["namespace"], log["pod"], "-c", log["container"],
                    f"--since={log['sinceSeconds']}s", f"--limit-bytes={log['limitBytes']}"])
    return out


def host_command(kubeconfig: str, command: str = "host") -> list[str]:
    return [str(SCRIPT), command, "svc-0", "-n", "ns-0", "-o", "json", "--kubeconfig", kubeconfig]


def median_of(runs: int, fn: Any) -> Any:
    fn()  # warm-up (discovery cache, page cache, bytecode)
    results = [fn() for _ in range(runs)]
    if isinstance(results[0], float):
        return statistics.median(results)
    return sorted(results, key=lambda r: r[0])[len(results) // 2]  # the run with the median wall time


def measure(pods: int, runs: int) -> dict[str, Any]:
    ready: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(pods, ready), daemon=True)
    server.start()
    url, counts = ready.get(timeout=600)
    tmp = Path(tempfile.mkdtemp())
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "bench",
                                      "clusters": [{"name": "bench", "cluster": {"server": url}}],
                                      "users": [{"name": "bench", "user": {"token": "bench"}}],
                                      "contexts": [{"name": "bench", "context": {"cluster": "bench",
                                                                                 "user": "bench"}}]}))
    try:
        plan_file = tmp / "plan.json"
        timed(host_command(str(kubeconfig)), {**os.environ, "MESHDOCTOR_STATS": str(plan_file)})
        floor_cmds = floor_commands(str(kubeconfig), json.loads(plan_file.read_text()))
        floor = median_of(runs, lambda: timed_together(floor_cmds))
        out: dict[str, Any] = {"pods": pods, "objects": sum(counts.values()), "floor": floor}
        for command in ("host", "tls"):
            stats_file = tmp / f"{command}.json"
            env = {**os.environ, "MESHDOCTOR_STATS": str(stats_file)}
            cmd = host_command(str(kubeconfig), command)
            wall, rss, code = median_of(runs, lambda cmd=cmd, env=env: timed(cmd, env))
            stats = json.loads(stats_file.read_text())
            out[command] = {"wall": wall, "rss": rss, "exit": code, **stats}
        out["pages"] = sum(max(1, math.ceil(counts.get(kind, 0) / 500)) for kind in
                           ("Service", "VirtualService", "DestinationRule", "Gateway", "ServiceEntry",
                            "PeerAuthentication", "Namespace"))
        return out
    finally:
        server.terminate()
        server.join()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", default="1000,10000,50000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--results", help="also write the table to this Markdown file")
    args = parser.parse_args()
    version = median_of(5, lambda: timed([str(SCRIPT), "version"])[0])
    rows = [measure(int(p), args.runs) for p in args.pods.split(",")]
    lines = ["| pods | objects | floor (kubectl) | host | host / floor | tls / floor | requests | MB received "
             "| peak RSS | analysis share |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        h, t = r["host"], r["tls"]
        share = h["analysisSeconds"] / h["wall"]
        lines.append(f"| {r['pods']:,} | {r['objects']:,} | {r['floor']:.2f} s | {h['wall']:.2f} s "
                     f"| {h['wall'] / r['floor']:.2f}x | {t['wall'] / r['floor']:.2f}x | {h['requests']} "
                     f"| {h['bytesReceived'] / 1e6:.1f} | {h['rss']:.0f} MiB | {share:.0%} |")
    fixed = {r["pods"]: r["host"]["requests"] - r["pages"] for r in rows}
    big = [r for r in rows if r["pods"] >= 10_000]
    verdicts = {
        "host <= 1.5x floor at >=10k pods": all(r["host"]["wall"] <= TARGETS["host_ratio"] * r["floor"] for r in big),
        "analysis <= 10% of wall": all(r["host"]["analysisSeconds"] <= TARGETS["analysis_share"] * r["host"]["wall"]
                                       for r in rows),
        "peak RSS <= 400 MiB at 50k": all(r["host"]["rss"] <= TARGETS["rss_mb_50k"] for r in rows
                                          if r["pods"] >= 50_000),
        "version <= 0.3 s": version <= TARGETS["version_s"],
        "requests grow only by pagination": len(set(fixed.values())) == 1,
    }
    lines.append("")
    lines.append(f"`kubectl meshdoctor version`: {version:.3f} s. Requests beyond the cluster-wide pages: {fixed}.")
    lines.append("")
    lines.append("Targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT MET'}" for name, ok in verdicts.items()))
    text = "\n".join(lines)
    print(text)
    if args.results:
        Path(args.results).write_text(_header(args) + text + "\n")


def _header(args: argparse.Namespace) -> str:
    import platform

    kubectl = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True,
                             check=False).stdout.splitlines()[:1]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"# Benchmark results\n\nMachine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{' '.join(kubectl)}; {time.strftime('%Y-%m-%d')}.\n\n"
            f"Reproduce: `.venv/bin/python -m bench.run --pods {args.pods} --runs {args.runs} --results "
            f"bench/RESULTS.md` (after the README's test command has created `.venv`).\n\n"
            "The floor is kubectl making the requests a `host` run made (its read plan, recorded by "
            "MESHDOCTOR_STATS): `kubectl get -o json` of each LIST with the same selectors (plain LISTs of one "
            "scope in one `get a,b,c`; `--raw` for a sampled page), one `kubectl logs` per proxy log read, all "
            "started together; meshdoctor and kubectl "
            "talk to the same fake API server (a separate "
            "process) on loopback. Times are medians after a warm-up; RSS is the peak of the meshdoctor "
            "process; the analysis share is the time after the last byte was fetched, over the wall time.\n\n")


if __name__ == "__main__":
    main()
