"""The benchmark: `host` and `tls` at 1k, 10k and 50k pods against the fetch floor, as ratios.

One command: `.venv/bin/python -m bench.run` (sizes with `--pods 1000,10000`). Each world is served
by the project's fake API server in a separate process; meshdoctor and kubectl run as real
processes. The floor is kubectl making exactly the requests a `host` run made (derived from the reads
the run records in MESHDOCTOR_STATS, so it cannot drift from the read plan), started together. Medians
of several runs after a warm-up. The last line says whether each target holds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.servers import Served, fake_server, real_server

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "kubectl-meshdoctor"
JSON_SCAN_MAX = 10_000  # pods up to which `scan -A -o json` is measured
TARGETS = {"host_ratio": 1.5, "analysis_share": 0.10, "rss_mb_50k": 400, "version_s": 0.3}


def timed(cmd: list[str], env: dict[str, str] | None = None,
          stdout: Any = subprocess.DEVNULL) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
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
        # kubectl's name for the resource, as `plural.version.group` when the version is not the group's v1
        resource = read["resource"] if not read["group"] else f"{read['resource']}.{read['group']}" \
            if read.get("version", "v1") == "v1" else f"{read['resource']}.{read['version']}.{read['group']}"
        if read["limit"]:
            base = f"/apis/{read['group']}/{read.get('version', 'v1')}" if read["group"] else "/api/v1"
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
    results = runs_of(runs, fn)
    if isinstance(results[0], float):
        return statistics.median(results)
    return sorted(results, key=lambda r: r[0])[len(results) // 2]  # the run with the median wall time


def runs_of(runs: int, fn: Any) -> list[Any]:
    fn()  # warm-up (discovery cache, page cache, bytecode)
    return [fn() for _ in range(runs)]


def timed_stats(cmd: list[str], stats_file: Path) -> tuple[float, float, int, dict[str, Any]]:
    """timed(), with what the run itself recorded (MESHDOCTOR_STATS): each figure of a row from one run."""
    wall, rss, code = timed(cmd, {**os.environ, "MESHDOCTOR_STATS": str(stats_file)})
    return wall, rss, code, json.loads(stats_file.read_text())


def raw_pod_fetch(served: Served) -> float:
    """All pods in pages of 500 with plain Python (http.client, json.loads, discard): what fetching the
    pods costs with nothing else done."""
    parsed = urllib.parse.urlsplit(served.url)
    context = ssl.create_default_context(cafile=served.cafile) if served.cafile else None
    started = time.perf_counter()
    conn: http.client.HTTPConnection = (http.client.HTTPSConnection(parsed.hostname, parsed.port, context=context)
                                        if parsed.scheme == "https" else
                                        http.client.HTTPConnection(parsed.hostname, parsed.port))
    token = ""
    while True:
        conn.request("GET", "/api/v1/pods?limit=500" + (f"&continue={urllib.parse.quote(token)}" if token else ""),
                     headers={"Authorization": f"Bearer {served.token}", "Accept": "application/json"})
        page = json.loads(conn.getresponse().read())
        token = page["metadata"].get("continue") or ""
        if not token:
            break
    conn.close()
    return time.perf_counter() - started


def measure(served: Served, pods: int, runs: int) -> dict[str, Any]:
    kubeconfig = served.kubeconfig
    tmp = Path(tempfile.mkdtemp())
    try:
        plan_file = tmp / "plan.json"
        timed(host_command(kubeconfig), {**os.environ, "MESHDOCTOR_STATS": str(plan_file)})
        floor_cmds = floor_commands(kubeconfig, json.loads(plan_file.read_text()))
        floor = median_of(runs, lambda: timed_together(floor_cmds))
        out: dict[str, Any] = {"pods": pods, "objects": sum(served.counts.values()), "floor": floor,
                               "server": served.kind}
        for command in ("host", "tls"):
            cmd = host_command(kubeconfig, command)
            wall, rss, code, stats = median_of(runs, lambda cmd=cmd: timed_stats(cmd, tmp / "host.json"))
            out[command] = {"wall": wall, "rss": rss, "exit": code, **stats}
        scan = [str(SCRIPT), "scan", "-A", "--kubeconfig", kubeconfig]
        scans = runs_of(runs, lambda: timed_stats(scan, tmp / "scan.json"))
        wall, rss, code, stats = sorted(scans, key=lambda r: r[0])[len(scans) // 2]
        # every run's analysis share: it swings with how the API server and the analysis share the cores
        out["scan"] = {"wall": wall, "rss": rss, "exit": code, **stats,
                       "shares": [s["analysisSeconds"] / w for w, _, _, s in scans]}
        # the JSON of every host's report, sections included: at 50k pods minutes and gigabytes (issue 19)
        out["scanJson"] = median_of(runs, lambda: timed([*scan, "-o", "json"])[0]) \
            if pods <= JSON_SCAN_MAX else None
        out["rawPods"] = median_of(runs, lambda: raw_pod_fetch(served))
        out["kubectlPods"] = median_of(runs, lambda: timed(["kubectl", "--kubeconfig", kubeconfig, "get", "pods",
                                                            "-A", "-o", "json"])[0])
        out["pages"] = sum(max(1, math.ceil(served.counts.get(kind, 0) / 500)) for kind in
                           ("Service", "VirtualService", "DestinationRule", "Gateway", "ServiceEntry",
                            "PeerAuthentication", "Namespace"))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure_on(server: str, pods: int, runs: int) -> dict[str, Any]:
    serve = real_server if server == "real" else fake_server
    with serve(pods) as served:
        return measure(served, pods, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", default="1000,10000,50000")
    parser.add_argument("--real-pods", default="", help="sizes to load into a real kube-apiserver too (10000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--results", help="also write the tables to this Markdown file")
    args = parser.parse_args()
    version = median_of(5, lambda: timed([str(SCRIPT), "version"])[0])
    rows = [measure_on("fake", int(p), args.runs) for p in args.pods.split(",") if p]
    rows += [measure_on("real", int(p), args.runs) for p in args.real_pods.split(",") if p]
    lines = [*host_table(rows), "", *scan_table(rows), ""]
    fixed = {r["pods"]: r["host"]["requests"] - r["pages"] for r in rows if r["server"] == "fake"}
    big = [r for r in rows if r["pods"] >= 10_000]
    verdicts = {
        "host <= 1.5x floor at >=10k pods": all(r["host"]["wall"] <= TARGETS["host_ratio"] * r["floor"] for r in big),
        "host analysis <= 10% of wall": all(
            r["host"]["analysisSeconds"] <= TARGETS["analysis_share"] * r["host"]["wall"] for r in rows),
        "host peak RSS <= 400 MiB at 50k": all(r["host"]["rss"] <= TARGETS["rss_mb_50k"] for r in rows
                                               if r["pods"] >= 50_000),
        "version <= 0.3 s": version <= TARGETS["version_s"],
        "requests grow only by pagination": len(set(fixed.values())) <= 1,
        **scan_verdicts(rows),
    }
    lines.append(f"`kubectl meshdoctor version`: {version:.3f} s. Requests beyond the cluster-wide pages: {fixed}.")
    lines.append("")
    lines.append("Targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT MET'}" for name, ok in verdicts.items()))
    text = "\n".join(lines)
    print(text)
    if args.results:
        Path(args.results).write_text(_header(args) + text + "\n")


def host_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| server | pods | objects | floor (kubectl) | host | host / floor | tls / floor | requests "
             "| MB received | peak RSS | analysis share |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        h, t = r["host"], r["tls"]
        lines.append(f"| {r['server']} | {r['pods']:,} | {r['objects']:,} | {r['floor']:.2f} s | {h['wall']:.2f} s "
                     f"| {h['wall'] / r['floor']:.2f}x | {t['wall'] / r['floor']:.2f}x | {h['requests']} "
                     f"| {h['bytesReceived'] / 1e6:.1f} | {h['rss']:.0f} MiB "
                     f"| {h['analysisSeconds'] / h['wall']:.0%} |")
    return lines


def scan_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| server | pods | hosts | raw pod fetch | kubectl get pods -A | scan -A | scan / raw | kubectl / scan "
             "| scan -A -o json | peak RSS | analysis share |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sc = r["scan"]
        lines.append(f"| {r['server']} | {r['pods']:,} | {sc['hosts']:,} | {r['rawPods']:.2f} s "
                     f"| {r['kubectlPods']:.2f} s | {sc['wall']:.2f} s | {sc['wall'] / r['rawPods']:.2f}x "
                     f"| {r['kubectlPods'] / sc['wall']:.2f}x | {_seconds(r['scanJson'])} | {sc['rss']:.0f} MiB "
                     f"| {sc['analysisSeconds'] / sc['wall']:.0%} ({_range(sc.get('shares', []))}) |")
    return lines


def _range(shares: list[float]) -> str:
    return f"runs {min(shares):.0%}-{max(shares):.0%}" if shares else "one run"


def _seconds(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "not measured"


def scan_verdicts(rows: list[dict[str, Any]]) -> dict[str, bool]:
    """Issue 19's targets for `scan -A`, on the server each is stated for."""
    real = [r for r in rows if r["server"] == "real" and r["pods"] >= 10_000]
    fake = [r for r in rows if r["server"] == "fake" and r["pods"] >= 50_000]
    out = {}
    if real:
        out |= {
            "scan <= 1.5x raw fetch (real, 10k)": all(r["scan"]["wall"] <= 1.5 * r["rawPods"] for r in real),
            "scan >= 3x faster than kubectl (real, 10k)": all(r["kubectlPods"] >= 3 * r["scan"]["wall"] for r in real),
            "scan RSS <= 400 MiB (real, 10k)": all(r["scan"]["rss"] <= 400 for r in real),
            "scan analysis <= 30% (real, 10k)": all(r["scan"]["analysisSeconds"] <= 0.3 * r["scan"]["wall"]
                                                    for r in real)}
    if fake:
        out |= {"scan <= 1.5x raw fetch (fake, 50k)": all(r["scan"]["wall"] <= 1.5 * r["rawPods"] for r in fake),
                "scan RSS <= 1 GiB (fake, 50k)": all(r["scan"]["rss"] <= 1024 for r in fake)}
    return out


def _header(args: argparse.Namespace) -> str:
    import platform

    kubectl = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True,
                             check=False).stdout.splitlines()[:1]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"# Benchmark results\n\nMachine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{' '.join(kubectl)}; {time.strftime('%Y-%m-%d')}.\n\n"
            f"Reproduce: `.venv/bin/python -m bench.run --pods {args.pods} --real-pods {args.real_pods} --runs "
            f"{args.runs} --results bench/RESULTS.md` (after the README's test command has created `.venv`; the "
            "real server needs `bash tests/integration/cluster/build.sh` once).\n\n"
            "The floor is kubectl making the requests a `host` run made (its read plan, recorded by "
            "MESHDOCTOR_STATS): `kubectl get -o json` of each LIST with the same selectors (plain LISTs of one "
            "scope in one `get a,b,c`; `--raw` for a sampled page), one `kubectl logs` per proxy log read, all "
            "started together; meshdoctor and kubectl "
            "talk to the same fake API server (a separate "
            "process) on loopback. Times are medians after a warm-up; RSS is the peak of the meshdoctor "
            "process; the analysis share is the time after the last byte was fetched, over the wall time.\n\n")


if __name__ == "__main__":
    main()
