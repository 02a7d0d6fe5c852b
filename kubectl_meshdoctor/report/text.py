"""The human report: what an engineer reads at 3 a.m. Cluster strings are always `Text`, never
markup, so `[istio-proxy]` in a message prints as written."""

from __future__ import annotations

import os
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from kubectl_meshdoctor.checks.findings import Finding
from kubectl_meshdoctor.checks.severity import CheckStatus, Severity
from kubectl_meshdoctor.report.layout import (
    SEVERITY_MARKS,
    CheckLine,
    Overview,
    group_views,
    sections,
    source_line,
    symptom_lines,
)
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.report.sections import Route, Routing, Symptoms, Workloads
from kubectl_meshdoctor.report.verdict import headline
from kubectl_meshdoctor.report.wrap import break_lines
from kubectl_meshdoctor.snapshot import objects as o

STYLE = {"✗": "bold red", "‼": "bold yellow", "i": "cyan", "✓": "green", "-": "magenta", "~": "magenta", "·": "dim"}


def make_console(stream: TextIO, no_color: bool) -> Console:
    """Built per run (rich snapshots NO_COLOR at construction). The width is COLUMNS when set (rich reads
    it), else the terminal's, else 120 when piped, so that a log or a paste is not cut at 80 columns."""
    colours = {"no_color": no_color, "color_system": None if no_color else "auto", "highlight": False}
    console = Console(file=stream, **colours)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console = Console(file=stream, width=120, **colours)
    return console


def render_text(report: Report, console: Console, verbose: bool = False) -> None:
    """The verdict first, then what fails (worst first), then what could not be checked; passing checks
    are one line unless --verbose lists them family by family."""
    _indented(console, Text.assemble(("meshdoctor", "bold"), "  host ", (report.host, "bold"),
                                     f"  (asked for {report.target_input!r})" if report.target_input != report.host
                                     else ""), 0)
    _indented(console, Text(source_line(report), style="dim"), 0)
    console.print()
    _render_verdict(console, report)
    if report.symptoms:
        _render_symptoms(console, report.symptoms)
    overview = Overview.of(report)
    if overview.problems:
        console.print()
        console.print(Text(f"Problems, worst first ({len(overview.problems)})", style="bold underline"))
        for finding in overview.problems:
            _render_finding(console, finding)
    if overview.incomplete:
        console.print()
        console.print(Text(f"Could not check ({len(overview.incomplete)})", style="bold underline"))
        for result in overview.incomplete:
            _render_check(console, CheckLine(result, ()))
    console.print()
    if verbose:
        for family, lines in sections(report):
            console.print(Text(family.title, style="bold underline"))
            for line in lines:
                _render_check(console, line, with_findings=False)
            console.print()
    else:
        _indented(console, Text(overview.collapsed(), style="dim"), 0, bullet=Text("✓ ", style=STYLE["✓"]))
    if report.suppressed:
        console.print()
        console.print(Text(f"Suppressed ({len(report.suppressed)}): not counted in the exit code",
                           style="bold underline"))
        for finding, why in report.suppressed:
            _indented(console, Text(f"{finding.entry.code} {finding.entry.id} ({why}): ", style="dim")
                      + Text(finding.message), 2, bullet="- ")
    if report.resolved:
        console.print()
        console.print(Text("Resolved by the change", style="bold underline"))
        for finding in report.resolved:
            label = Text(f"{finding.entry.code} {finding.entry.id}: ", style="green")
            _indented(console, label + Text(finding.message), 2, bullet="✓ ")
    if report.routing and (report.routing.views or report.routing.gateways):
        _render_routing(console, report.routing)
    if report.workloads and report.workloads.services:
        _render_workloads(console, report.workloads)
    if report.notes:
        console.print()
        console.print(Text("Notes", style="bold underline"))
        for note in report.notes:
            _indented(console, Text(note), 2, bullet="• ")


def _render_verdict(console: Console, report: Report) -> None:
    incomplete = any(c.status.incomplete for c in report.checks)
    worst = "✗" if report.count(Severity.ERROR) else "‼" if report.count(Severity.WARNING) or incomplete else "✓"
    _indented(console, Text(headline(report), style="bold"), 0, bullet=Text(worst + " ", style=STYLE[worst]))


def _render_symptoms(console: Console, symptoms: Symptoms) -> None:
    heading, lines = symptom_lines(symptoms)
    console.print()
    _indented(console, Text(heading, style="bold underline"), 0)
    for explained, seen, cause in lines:
        mark = "✗" if explained else "‼"
        _indented(console, Text(seen), 2, bullet=Text(mark + " ", style=STYLE[mark]))
        _indented(console, Text(cause, style="dim" if not explained else ""), 6)


def _render_check(console: Console, line: CheckLine, with_findings: bool = True) -> None:
    entry = line.result.entry
    head = Text.assemble(entry.statement, ("  " + entry.code, "dim"))
    if line.result.status in (CheckStatus.SKIPPED, CheckStatus.PARTIAL, CheckStatus.NOT_RUN):
        head.append(f"  {line.result.status}: ", style=STYLE[line.mark])
        head.append(line.result.reason)
    elif line.result.reason:
        head.append(f"  ({line.result.reason})", style="dim")
    _indented(console, head, 2, bullet=Text(line.mark + " ", style=STYLE[line.mark]))
    for finding in line.findings if with_findings else ():
        _render_finding(console, finding)


def _render_finding(console: Console, finding: Finding) -> None:
    mark = SEVERITY_MARKS[finding.level]
    change = Text(f"[{finding.change}] ", style="bold yellow" if finding.change == "new" else "dim") \
        if finding.change else Text("")
    _indented(console, change + Text.assemble((f"{finding.entry.code} {finding.entry.id}", "bold"),
                                              f": {finding.entry.title}"), 2,
              bullet=Text(mark + " ", style=STYLE[mark]))
    _indented(console, Text(finding.message), 6)
    if finding.resources:
        objects = ", ".join(r.label() for r in finding.resources)
        _indented(console, Text("Objects: ", style="bold") + Text(objects), 6)
    _indented(console, Text("Fix:", style="bold"), 6)
    for i, step in enumerate(finding.remediation or finding.entry.fix, 1):
        _indented(console, Text(step), 8, bullet=f"{i}. ")
    _indented(console, Text("Docs: ", style="bold") + Text(" ".join(finding.entry.docs), style="blue"), 6)


def _indented(console: Console, text: Text, left: int, bullet: str | Text = "", whole: bool = False) -> None:
    """Wraps at the console width keeping the indent (and a hanging indent after a bullet), at spaces
    only and never inside a command or URL (report/wrap.py); `whole` keeps the text on one line."""
    bullet = bullet if isinstance(bullet, Text) else Text(bullet)
    hang = " " * len(bullet)
    for n, line in enumerate(break_lines(text, max(20, console.width - left - len(bullet)), whole)):
        console.print(Text(" " * left) + (bullet if n == 0 else Text(hang)) + line,
                      no_wrap=True, overflow="ignore", crop=False)


def _render_routing(console: Console, routing: Routing) -> None:
    console.print()
    console.print(Text("Routing: what clients really get", style="bold underline"))
    for namespaces, view in group_views(routing.views):
        _indented(console, Text(f"Clients in {', '.join(namespaces)}", style="bold"), 2)
        if view.sidecar:
            _indented(console, Text(f"scoped by {view.sidecar}"), 4)
        vs = view.virtual_service
        if vs is None:
            _indented(console, Text("VirtualService: none (default round-robin to the Service)"), 4)
        else:
            ignored = f"  (ignored: {', '.join(vs.ignored)})" if vs.ignored else ""
            _indented(console, Text(f"VirtualService {vs.in_effect}{ignored}"), 4)
            _render_routes(console, vs.routes)
        dr = view.destination_rule
        if dr is None:
            _indented(console, Text("DestinationRule: none"), 4)
        else:
            line = f"DestinationRule {', '.join(dr.rules)} (found in the {dr.found_in}, host {dr.host})"
            _indented(console, Text(line), 4)
            if dr.subsets:
                _indented(console, Text("subsets: " + ", ".join(dr.subsets)), 6)
            if dr.traffic_policy_from:
                _indented(console, Text(f"trafficPolicy from {dr.traffic_policy_from}"), 6)
            if dr.discarded:
                _indented(console, Text("discarded: " + ", ".join(dr.discarded), style="yellow"), 6)
    for gw in routing.gateways:
        title = (("" if gw.gateway.startswith("mesh") else "Gateway ") + f"{gw.gateway}, virtual host {gw.virtual_host}"
                 + (f" (proxies in {gw.proxy_namespace})" if gw.proxy_namespace else "")
                 + f": fragments {', '.join(gw.fragments)}")
        _indented(console, Text(title, style="bold"), 2)
        _render_routes(console, gw.routes)


def _render_workloads(console: Console, workloads: Workloads) -> None:
    console.print()
    console.print(Text("Workloads: what Istio makes of each port", style="bold underline"))
    for svc in workloads.services:
        _indented(console, Text(f"Service {svc.service}", style="bold"), 2)
        for port in svc.ports:
            shown = f"{port.port}" + (f" ({port.name})" if port.name else "")
            _indented(console, Text(f"{shown} -> {port.protocol}: {port.reason}"), 4, bullet="port ")
    if workloads.pods is not None:
        pods = workloads.pods
        ready = sum(1 for p in pods if p.ready)
        meshed = sum(1 for p in pods if p.sidecar)
        ambient = sum(1 for p in pods if p.dataplane == "ambient")
        _indented(console, Text(f"Pods: {len(pods)}, {ready} ready, {meshed} with a sidecar"
                                + (f", {ambient} in ambient mode (ztunnel)" if ambient else ""), style="bold"), 2)
        for pod in pods:
            state = ("ready" if pod.ready else "NOT READY") + ", " + (
                f"sidecar {pod.proxy_version or ''}".rstrip() if pod.sidecar else
                "ambient (ztunnel)" if pod.dataplane == "ambient" else
                f"NOT IN THE MESH: {pod.dataplane_reason}" if pod.dataplane == "not-captured" else "NO SIDECAR")
            labels = ",".join(f"{k}={v}" for k, v in pod.labels.items() if k in ("app", "version"))
            _indented(console, Text(f"{pod.pod}  {state}  {labels}"), 4)


def _render_routes(console: Console, routes: tuple[Route, ...]) -> None:
    for i, route in enumerate(routes, 1):
        dests = ", ".join(route.destinations) or "(no destination)"
        tail = "  [catch-all]" if route.catch_all else ""
        _indented(console, Text(f"{route.match} -> {dests}  ({route.from_}){tail}"), 6, bullet=f"{i}. ")


def render_plan(plan_report: Any, console: Console) -> None:
    """The `plan` command: the steps to apply, then what applying everything at once would risk."""
    steps = plan_report.plan.steps
    _indented(console, Text.assemble(("meshdoctor plan", "bold"), f"  (the change lands on {plan_report.source})"), 0)
    console.print()
    title = "Apply in one step" if len(steps) == 1 else f"Apply in {len(steps)} steps (make-before-break)"
    console.print(Text(title, style="bold underline"))
    for i, (step, path) in enumerate(zip(steps, plan_report.files, strict=True), 1):
        _indented(console, Text(step.title, style="bold"), 2, bullet=f"{i}. ")
        for obj in step.objects:
            _indented(console, Text(f"{o.kind(obj)} {o.namespace(obj)}/{o.name(obj)}"), 7)
        for why in step.why:
            _indented(console, Text(why, style="dim"), 7)
        _indented(console, Text(f"kubectl apply -f {path}"), 7, bullet="$ ", whole=True)
        if step.wait:
            _indented(console, Text(step.wait), 7)
    if len(steps) > 1 and not plan_report.written:
        _indented(console, Text("(the step files are not written yet: add --write-dir DIR to write them)",
                                style="dim"), 2)
    if plan_report.findings:
        console.print()
        console.print(Text("Why not everything at once", style="bold underline"))
        for finding in plan_report.findings:
            _indented(console, Text(finding.message), 2, bullet=Text("✗ ", style=STYLE["✗"]))
            for n, step in enumerate(finding.remediation, 1):
                _indented(console, Text(step), 4, bullet=f"{n}. ")
    console.print()
    verdict = "the change is safe to apply in one step" if plan_report.plan.one_shot_safe else \
        "apply the steps in order, waiting between them"
    console.print(Text.assemble(("✓ " if plan_report.plan.one_shot_safe else "‼ ",
                                 STYLE["✓" if plan_report.plan.one_shot_safe else "‼"]), (verdict, "bold")))
