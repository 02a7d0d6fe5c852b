"""`host` and `tls`: read (cluster and/or files) -> snapshot -> target -> checks -> Report.

Everything a run decides is decided here, in the order the architecture fixes, so tests can drive it
without the CLI; the reads come from the declared plan in run/readplan.py, pruned by the checks the
command selects.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_meshdoctor.checks.attribution import attribute
from kubectl_meshdoctor.checks.base import Check
from kubectl_meshdoctor.checks.context import CheckContext
from kubectl_meshdoctor.checks.findings import CheckResult, Finding
from kubectl_meshdoctor.checks.proxyconfig import is_gateway, predicted_clusters
from kubectl_meshdoctor.checks.registry import CHECKS
from kubectl_meshdoctor.checks.runner import run_checks
from kubectl_meshdoctor.checks.severity import CheckStatus
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, State
from kubectl_meshdoctor.durations import go_duration_seconds
from kubectl_meshdoctor.errors import InputFileError, UsageError
from kubectl_meshdoctor.mesh import gatewayapi
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.changes import ChangeSet
from kubectl_meshdoctor.mesh.configdump import read_config_dump
from kubectl_meshdoctor.mesh.settings import MeshSettings, read_mesh_settings
from kubectl_meshdoctor.mesh.target import Target, resolve_target
from kubectl_meshdoctor.probes.gather import EvidenceOptions, gather
from kubectl_meshdoctor.report.docs import TlsReport
from kubectl_meshdoctor.report.model import Report, Source
from kubectl_meshdoctor.report.progress import ProgressFn, spinner
from kubectl_meshdoctor.report.sections import (
    Symptoms,
    http10_section,
    routing_section,
    symptoms_section,
    tls_section,
    workloads_section,
)
from kubectl_meshdoctor.report.suppress import parse_rules, split
from kubectl_meshdoctor.run.reading import execute
from kubectl_meshdoctor.run.readplan import HOST_ROUNDS, ReadPlan, Seen, needed_by
from kubectl_meshdoctor.snapshot.evidence import LiveEvidence
from kubectl_meshdoctor.snapshot.files import LoadedFiles, load_files
from kubectl_meshdoctor.snapshot.model import Snapshot


@dataclass(frozen=True)
class HostRequest:
    host: str
    files: tuple[str, ...] = ()
    offline: bool = False
    cluster_domain: str = "cluster.local"
    families: tuple[str, ...] = ()  # only the checks of these families (empty: all)
    suppress: tuple[str, ...] = ()  # CODE_OR_ID[=Kind/ns/name] rules
    evidence: EvidenceOptions = dataclasses.field(default_factory=EvidenceOptions)  # logs and probes (live runs only)
    recursive: bool = False  # -R: directories of -f with their subdirectories
    base: tuple[str, ...] = ()  # --offline what-if: the world the -f files are laid over
    config_dumps: tuple[str, ...] = ()  # --config-dump [NS/POD=]FILE: proxies' configuration to compare with

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(c for c in CHECKS if not self.families or c.entry.family in self.families)


def evidence_options(no_logs: bool, since: str, log_bytes: int, probe: bool,
                     client_namespaces: tuple[str, ...] | list[str]) -> EvidenceOptions:
    seconds = go_duration_seconds(since)
    if seconds is None or seconds <= 0:
        raise UsageError(f"--since must be a duration such as 30s, 15m or 2h, not {since!r}")
    return EvidenceOptions(not no_logs, max(1, int(seconds)), since, log_bytes, probe, tuple(client_namespaces))


def diagnose_host(request: HostRequest, kube: KubeOptions, no_color: bool = False) -> Report:
    started = time.perf_counter()
    stats: dict[str, Any] = {}
    with spinner(no_color) as progress:
        report = _diagnose(request, kube, progress, stats)
    if os.environ.get("MESHDOCTOR_STATS"):  # for bench/: where the time went, and what was read
        done = time.perf_counter()
        stats["totalSeconds"] = done - started
        last_answer = stats.pop("lastAnswer", 0.0)  # analysis: everything after the last byte
        stats["analysisSeconds"] = done - last_answer if last_answer else \
            stats["totalSeconds"] - stats.get("fetchSeconds", 0.0)
        Path(os.environ["MESHDOCTOR_STATS"]).write_text(json.dumps(stats))
    return report


def diagnose_tls(request: HostRequest, kube: KubeOptions, no_color: bool = False) -> TlsReport:
    """`host` shows routing; this command is about TLS."""
    return TlsReport(dataclasses.replace(diagnose_host(request, kube, no_color), routing=None))


@dataclass(frozen=True)
class World:
    """What a host run analyses: the snapshot with the settings and target read from it, and the rest."""

    snapshot: Snapshot
    settings: MeshSettings
    target: Target
    notes: tuple[str, ...] = ()
    change: ChangeSet | None = None
    evidence: LiveEvidence = dataclasses.field(default_factory=LiveEvidence)


def _diagnose(request: HostRequest, kube: KubeOptions, progress: ProgressFn, stats: dict[str, Any]) -> Report:
    parse_rules(request.suppress)  # a wrong --suppress is a usage error before anything is read
    if request.base and not request.offline:
        raise UsageError("--base is for --offline runs: live, the cluster is the world -f is laid over")
    dumps = tuple(read_config_dump(spec) for spec in request.config_dumps)  # a bad file costs no cluster read
    if request.offline:
        world = _offline_world(request, kube.namespace or "default")
    else:
        fetch_started = time.perf_counter()
        world = _live_world(request, kube, progress, stats)
        stats["fetchSeconds"] = time.perf_counter() - fetch_started
    progress("running checks")
    evidence = dataclasses.replace(world.evidence, proxy_configs=dumps) if dumps else world.evidence
    return analyse(request, world.snapshot, world.settings, world.target, [*world.notes, *evidence.notes],
                   world.change, evidence)


def _offline_world(request: HostRequest, namespace: str) -> World:
    """The files are the world; with --base, the base files are and -f is the change laid over them
    (the what-if of a live `host -f`, without a cluster: findings marked new, the ones it resolves listed)."""
    if not request.base:
        files = load_offline(request.files, namespace, request.recursive)
        snapshot, change, notes = offline_snapshot(files), None, files.notes
    else:
        if not request.files:
            raise UsageError("--base is the world a change lands on: give the change with -f")
        base_files = load_offline(request.base, namespace, request.recursive)
        changed = load_files(list(request.files), namespace, request.recursive)
        if changed.empty:
            raise InputFileError(f"{', '.join(request.files)}: no Kubernetes objects in the change")
        both = dataclasses.replace(base_files, objects=base_files.objects + changed.objects)
        snapshot = offline_snapshot(both)
        change = ChangeSet(offline_snapshot(base_files), changed.objects)
        notes = (*base_files.notes, *changed.notes,
                 f"what-if: {', '.join(request.files)} laid over the world of {', '.join(request.base)}")
    return World(snapshot, read_mesh_settings(snapshot, request.cluster_domain),
                 resolve_target(snapshot, request.host, namespace, request.cluster_domain), tuple(notes), change)


def load_offline(files: tuple[str, ...] | list[str], namespace: str, recursive: bool = False) -> LoadedFiles:
    """The files that are the whole world of an --offline run (host, tls, scan)."""
    if not files:
        raise UsageError("--offline needs the world to analyse: -f FILE or DIRECTORY")
    loaded = load_files(list(files), namespace, recursive)
    if loaded.empty:
        raise InputFileError(f"{', '.join(files)}: no Kubernetes objects in the files (empty, or comments only)")
    return loaded


def analyse(request: HostRequest, snapshot: Snapshot, settings: MeshSettings, target: Target, notes: list[str],
            change: ChangeSet | None = None, evidence: LiveEvidence | None = None, sections: bool = True) -> Report:
    """The checks and report sections for one target over a snapshot already read (used by `host` and,
    once per host over one snapshot, by `scan`). Without `sections` (a scan printed as a table) only the
    checks and findings are made: the routing, TLS, workload and HTTP/1.0 tables are half the work."""
    ctx = CheckContext(snapshot, settings, target, change, evidence or LiveEvidence())
    checks = request.checks
    results, findings = run_checks(ctx, checks)
    findings = _weighed_by_proxies(ctx, findings)
    findings, symptoms = _symptoms(ctx, findings)
    rules = parse_rules(request.suppress)
    findings, suppressed = split(findings, rules, snapshot)
    results = _passed_when_all_suppressed(results, findings, suppressed)
    resolved = None
    if change is not None:
        findings, resolved = _compare_with_base(findings, CheckContext(change.base, settings, target), checks)
    findings.sort(key=lambda f: (f.level.rank, f.entry.code))
    source = Source(snapshot.mode, snapshot.context, str(settings.version) if settings.version else None,
                    settings.auto_mtls, settings.root_namespace)
    answered = {r.entry.family for r in results if r.status.answered}
    return Report(
        target_input=request.host, host=target.host, namespace=target.namespace, source=source,
        checks=tuple(results), findings=tuple(findings),
        notes=(*target.notes, *notes, *settings.notes, *_gateway_api_notes(ctx), *_confirmed(ctx, findings)),
        routing=routing_section(ctx.routing) if sections and snapshot.readable("virtualservices") else None,
        tls=tls_section(ctx.tls_rows) if sections and "tls" in answered else None, resolved=resolved,
        workloads=workloads_section(snapshot, settings, target) if sections and snapshot.readable("services")
        else None,
        suppressed=tuple(suppressed),
        http10=http10_section([s for _, s in ctx.http10_receivers])
        if sections and "http10" in answered and snapshot.readable("pods") else None,
        symptoms=symptoms)


def _weighed_by_proxies(ctx: CheckContext, findings: list[Finding]) -> list[Finding]:
    """Each model finding about a client namespace whose proxy configuration was compared says so in its
    evidence: `proxyConfirmed` (that proxy holds what the model predicts) or `unconfirmed` (it differs:
    the finding rests on a prediction the proxy contradicts)."""
    dumps = ctx.evidence.proxy_configs
    if not dumps:
        return findings
    differing = _differing(findings)
    by_ns: dict[str, list[str]] = {}
    for dump in dumps:
        if not is_gateway(ctx, dump):  # a gateway proxy does not stand for the sidecars of its namespace
            by_ns.setdefault(dump.namespace, []).append(dump.ref)
    out = []
    for f in findings:
        refs = by_ns.get(f.client_namespace or "", []) if f.entry.family != "proxyconfig" else []
        if refs:
            key = "unconfirmed" if any(r in differing for r in refs) else "proxyConfirmed"
            f = dataclasses.replace(f, evidence={**f.evidence, key: refs})
        out.append(f)
    return out


def _differing(findings: list[Finding]) -> set[str]:
    """The proxies (ns/pod) whose configuration an MD80x finding says differs from the model."""
    return {f.evidence.get("proxy", "") for f in findings if f.entry.family == "proxyconfig"}


def _confirmed(ctx: CheckContext, findings: list[Finding]) -> list[str]:
    """The proxies whose configuration agrees with the model: its predictions are facts for them."""
    differing = _differing(findings)
    return [f"confirmed by the proxy configuration of {d.ref} ({d.source}): its clusters, upstream TLS and routes "
            f"for {ctx.target.host} are what the model predicts" for d in ctx.evidence.proxy_configs
            if d.ref not in differing and predicted_clusters(ctx, d.namespace, is_gateway(ctx, d))]


def _gateway_api_notes(ctx: CheckContext) -> list[str]:
    if not ctx.snapshot.readable("virtualservices"):
        return []
    mesh = [vss.vs_ref(v) for v in ctx.routing.declaring if vss.MESH in vss.vs_gateways(v)]
    return gatewayapi.mesh_overlap_notes(ctx.gateway_routes, ctx.target.host, ctx.target.services, mesh)


def _symptoms(ctx: CheckContext, findings: list[Finding]) -> tuple[list[Finding], Symptoms | None]:
    """The access logs' failures for the host, each tied to the findings that explain it."""
    if not ctx.evidence.logs_read:
        return findings, None
    status = ctx.snapshot.status("podlogs")
    if not status.ok:
        return findings, Symptoms(ctx.evidence.since, not_read=status.reason())
    attributed, findings = attribute(ctx.log_summary, findings, ctx.target.host)
    return findings, symptoms_section(ctx.log_summary, attributed, ctx.evidence.logs, ctx.evidence.since_seconds,
                                      status.message if status.state == State.PARTIAL else "")


def _passed_when_all_suppressed(results: list[CheckResult], findings: list[Finding],
                               suppressed: list[tuple[Finding, str]]) -> list[CheckResult]:
    """A check whose every finding was suppressed on purpose passes, and says so."""
    remaining = {f.entry.code for f in findings}
    counts: dict[str, int] = {}
    for finding, _ in suppressed:
        counts[finding.entry.code] = counts.get(finding.entry.code, 0) + 1
    return [dataclasses.replace(r, status=CheckStatus.PASSED, reason=f"{counts[r.entry.code]} finding(s) suppressed")
            if r.status == CheckStatus.FAILED and r.entry.code in counts and r.entry.code not in remaining else r
            for r in results]


def _compare_with_base(findings: list[Finding], base: CheckContext, checks: tuple[Check, ...],
                       ) -> tuple[list[Finding], tuple[Finding, ...]]:
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


def _live_world(request: HostRequest, kube: KubeOptions, progress: ProgressFn, stats: dict[str, Any]) -> World:
    """Runs the read plan, then reads logs and probes; the target and settings the last round resolved
    are the ones analysed (no second resolution over the same objects)."""
    from kubectl_meshdoctor.snapshot.live import LiveReader

    reader = LiveReader.open(kube, progress)
    overlay = tuple(load_files(list(request.files), reader.namespace, request.recursive).objects) \
        if request.files else ()
    mode = "overlay" if request.files else "live"
    options = request.evidence
    plan = ReadPlan(HOST_ROUNDS, needed_by(request.checks, options.logs, options.probe))
    seen = Seen(reader.snapshot(overlay, mode), reader.namespace, request.host, request.cluster_domain,
                client_namespaces=options.client_namespaces)
    snapshot = execute(reader, plan, seen, overlay, mode)
    seen = dataclasses.replace(seen, snapshot=snapshot)
    if plan.needed & {"appconfigmaps", "podlogs"}:
        asked = seen.routing.client_namespaces(reader.namespace, options.client_namespaces)
        reader.notes.append(f"client pods and NGINX configs were looked for in: {', '.join(asked)} "
                            "(name others with --client-namespace)")
    progress("reading proxy logs" if "podlogs" in plan.needed else "reading pods")
    options = dataclasses.replace(options, logs=options.logs and "podlogs" in plan.needed)
    evidence = gather(reader, snapshot, seen.settings, seen.target, seen.routing, options)
    stats.update(requests=reader.api.requests, bytesReceived=reader.api.bytes_received,
                 lastAnswer=reader.api.last_answer, reads=reader.made(),
                 logs=[{"namespace": log.namespace, "pod": log.pod, "container": "istio-proxy",
                        "sinceSeconds": options.since_seconds, "limitBytes": options.log_bytes}
                       for log in evidence.logs])
    change = ChangeSet(reader.snapshot((), "live"), overlay) if overlay else None
    # the snapshot now also holds how reading the logs and probes went (podlogs, portforward)
    return World(reader.snapshot(overlay, mode), seen.settings, seen.target, tuple(reader.notes), change, evidence)
