"""One `host` run, start to end: read (cluster and/or files) -> snapshot -> target -> checks -> Report.

The CLI only parses flags and renders; everything a run decides is decided here, in the order the
architecture fixes, so tests can drive it without the CLI.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_meshdoctor.checks.attribution import attribute, summary_dict
from kubectl_meshdoctor.checks.context import CheckContext
from kubectl_meshdoctor.checks.registry import CHECKS
from kubectl_meshdoctor.checks.runner import run_checks
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, State
from kubectl_meshdoctor.mesh.changes import ChangeSet
from kubectl_meshdoctor.mesh.inventory import describe_workloads
from kubectl_meshdoctor.mesh.settings import MeshSettings, mesh_config_ref, read_mesh_settings
from kubectl_meshdoctor.mesh.target import Target, resolve_target
from kubectl_meshdoctor.mesh.views import build_model, describe
from kubectl_meshdoctor.mesh.workloads import (
    label_selector_string,
    selecting_gateways,
    service_selector,
)
from kubectl_meshdoctor.probes.gather import EvidenceOptions, gather, read_more
from kubectl_meshdoctor.report.model import FAILED, PASSED, Finding, Report, Source
from kubectl_meshdoctor.report.suppress import parse_rules, split
from kubectl_meshdoctor.snapshot.evidence import LiveEvidence
from kubectl_meshdoctor.snapshot.files import LoadedFiles, load_files
from kubectl_meshdoctor.snapshot.model import Snapshot

ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class HostRequest:
    host: str
    files: tuple[str, ...] = ()
    offline: bool = False
    cluster_domain: str = "cluster.local"
    families: tuple[str, ...] = ()  # only the checks of these families (empty: all)
    suppress: tuple[str, ...] = ()  # CODE_OR_ID[=Kind/ns/name] rules
    evidence: EvidenceOptions = dataclasses.field(default_factory=EvidenceOptions)  # logs and probes (live runs only)


def diagnose_host(request: HostRequest, kube: KubeOptions, progress: ProgressFn = lambda _m: None) -> Report:
    started = time.perf_counter()
    stats: dict[str, Any] = {}
    report = _diagnose(request, kube, progress, stats)
    if os.environ.get("MESHDOCTOR_STATS"):  # for bench/: where the time went, and what was fetched
        stats["totalSeconds"] = time.perf_counter() - started
        stats["analysisSeconds"] = stats["totalSeconds"] - stats.get("fetchSeconds", 0.0)
        Path(os.environ["MESHDOCTOR_STATS"]).write_text(json.dumps(stats))
    return report


def _diagnose(request: HostRequest, kube: KubeOptions, progress: ProgressFn, stats: dict[str, Any]) -> Report:
    if request.offline:
        namespace = kube.namespace or "default"
        files = load_files(list(request.files), namespace)
        snapshot = offline_snapshot(files)
        notes = [f"ignored objects of kinds meshdoctor does not read: {', '.join(files.ignored_kinds)}"] \
            if files.ignored_kinds else []
        change = None
        evidence = LiveEvidence()
    else:
        fetch_started = time.perf_counter()
        snapshot, namespace, notes, change, api, evidence = _live_snapshot(request, kube, progress)
        stats.update(fetchSeconds=time.perf_counter() - fetch_started, requests=api.requests,
                     bytesReceived=api.bytes_received)
    settings = read_mesh_settings(snapshot, request.cluster_domain)
    target = resolve_target(snapshot, request.host, namespace, request.cluster_domain)
    progress("running checks")
    return analyse(request, snapshot, settings, target, [*notes, *evidence.notes], change, evidence)


def analyse(request: HostRequest, snapshot: Snapshot, settings: MeshSettings, target: Target, notes: list[str],
            change: ChangeSet | None = None, evidence: LiveEvidence | None = None) -> Report:
    """The checks and report sections for one target over a snapshot already read (used by `host` and,
    once per host over one snapshot, by `scan`)."""
    ctx = CheckContext(snapshot, settings, target, change, evidence or LiveEvidence())
    checks = tuple(c for c in CHECKS if not request.families or c.entry.family in request.families)
    results, findings = run_checks(ctx, checks)
    findings, symptoms = _symptoms(ctx, findings)
    rules = parse_rules(request.suppress)
    findings, suppressed = split(findings, rules, snapshot)
    results = _passed_when_all_suppressed(results, findings, suppressed)
    resolved = None
    if change is not None:
        findings, resolved = _compare_with_base(findings, CheckContext(change.base, settings, target), checks)
    findings.sort(key=lambda f: ({"error": 0, "warning": 1, "info": 2}[f.level], f.entry.code))
    source = Source(snapshot.mode, snapshot.context, str(settings.version) if settings.version else None,
                    settings.auto_mtls, settings.root_namespace)
    routing = describe(ctx.routing) if snapshot.readable("virtualservices") else None
    tls_ran = any(r.entry.family == "tls" and r.status in (PASSED, FAILED) for r in results)
    tls = [row.to_dict() for row in ctx.tls_rows] if tls_ran else None
    http10_ran = any(r.entry.family == "http10" and r.status in (PASSED, FAILED) for r in results)
    http10 = [s.to_dict() for _, s in ctx.http10_receivers] if http10_ran and snapshot.readable("pods") else None
    return Report(request.host, target.host, target.namespace, source, tuple(results), tuple(findings),
                  tuple([*target.notes, *notes, *settings.notes]), routing, tls, resolved,
                  describe_workloads(snapshot, settings, target) if snapshot.readable("services") else None,
                  tuple(suppressed), http10, symptoms)


def _symptoms(ctx: CheckContext, findings: list[Finding]) -> tuple[list[Finding], dict[str, Any] | None]:
    """The access logs' failures for the host, each tied to the findings that explain it."""
    if not ctx.evidence.logs_read:
        return findings, None
    status = ctx.snapshot.status("podlogs")
    if not status.ok:
        return findings, {"window": ctx.evidence.since, "notRead": status.reason(), "entries": []}
    attributed, findings = attribute(ctx.log_summary, findings, ctx.target.host)
    return findings, summary_dict(ctx.log_summary, attributed)


def _passed_when_all_suppressed(results: list, findings: list[Finding], suppressed: list) -> list:
    """A check whose every finding was suppressed on purpose passes, and says so."""
    remaining = {f.entry.code for f in findings}
    counts: dict[str, int] = {}
    for finding, _ in suppressed:
        counts[finding.entry.code] = counts.get(finding.entry.code, 0) + 1
    return [dataclasses.replace(r, status=PASSED, reason=f"{counts[r.entry.code]} finding(s) suppressed")
            if r.status == FAILED and r.entry.code in counts and r.entry.code not in remaining else r
            for r in results]


def _compare_with_base(findings: list[Finding], base: CheckContext, checks: tuple) -> tuple[list[Finding], tuple]:
    """What-if: mark each finding new or unchanged against the live state, and list those it resolves."""
    _, before = run_checks(base, checks)
    before_ids = {f.identity() for f in before}
    after_ids = {f.identity() for f in findings}
    marked = [dataclasses.replace(f, change="unchanged" if f.identity() in before_ids else "new") for f in findings]
    return marked, tuple(f for f in before if f.identity() not in after_ids)


def offline_snapshot(files: LoadedFiles) -> Snapshot:
    return Snapshot.build(files.objects, offline_statuses(files), "offline")


def offline_statuses(files: LoadedFiles) -> dict[str, CollectionStatus]:
    """In --offline mode the files are the world. Istio configuration the files do not hold is not
    configured (a config directory without DestinationRules has none). Runtime state the files do not
    hold (Services, Endpoints, Pods) is unknown, not empty: checks that need it are skipped rather than
    told that nothing exists."""
    present = {key for key, _ in files.objects} | set(files.captured)
    return {key: CollectionStatus(key, State.OK if res.index in present or key in files.captured
                                  or res.is_configuration else State.ABSENT, "in the input files")
            for key, res in BY_KEY.items()}


def _live_snapshot(request: HostRequest, kube: KubeOptions, progress: ProgressFn):
    from kubectl_meshdoctor.snapshot.live import LiveReader

    reader = LiveReader.open(kube, progress)
    overlay = load_files(list(request.files), reader.namespace).objects if request.files else ()
    mode = "overlay" if request.files else "live"
    interim = reader.snapshot(overlay, mode)
    target = resolve_target(interim, request.host, reader.namespace, request.cluster_domain)
    routing = build_model(interim, read_mesh_settings(interim, request.cluster_domain), target)
    reader.read_round_two(_target_services(interim, target), mesh_config_ref(interim),
                          gateway_selectors(interim, routing.gateways))
    with_pods = reader.snapshot(overlay, mode)
    settings = read_mesh_settings(with_pods, request.cluster_domain)
    read_more(reader, settings, target, routing, request.evidence, lambda: reader.snapshot(overlay, mode))
    progress("reading proxy logs" if request.evidence.logs else "reading pods")
    evidence = gather(reader, reader.snapshot(overlay, mode), settings, target, routing, request.evidence)
    change = ChangeSet(reader.snapshot((), "live"), tuple(overlay)) if overlay else None
    return reader.snapshot(overlay, mode), reader.namespace, reader.notes, change, reader.api, evidence


def gateway_selectors(snapshot: Snapshot, gateways: tuple[str, ...]) -> list[str]:
    """Label selectors of the given Gateways (`ns/name`), for listing their proxies."""
    return [label_selector_string(service_selector(gw)) for _, gw in selecting_gateways(snapshot, gateways)]


def _target_services(snapshot: Snapshot, target: Target):
    for ref in target.services:
        svc = snapshot.get("services", ref.namespace, ref.name)
        yield ref.namespace, ref.name, service_selector(svc) if svc else {}
