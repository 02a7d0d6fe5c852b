"""Safe reconfiguration: would applying this change in one go open a 503 window, and has the last
change reached the proxies (istiod's /debug/syncz, ISTIO-SEMANTICS.md §G)?"""

from __future__ import annotations

import json
from typing import Any

from kubectl_meshdoctor.checks.base import check, reads
from kubectl_meshdoctor.checks.context import CannotTell, CheckContext, gateway_pods, host_pods, probed
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh.changes import Plan, plan
from kubectl_meshdoctor.mesh.workloads import has_sidecar
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.evidence import PortAnswer


def hazard_problems(result: Plan, host: str | None = None) -> list[Problem]:
    """MD304 problems for the hazards of a plan (only those of `host`, when given)."""
    findings = []
    for hazard in result.hazards:
        if host is not None and hazard.host != host:
            continue
        fix = ("Apply in the order `kubectl meshdoctor plan -f CHANGE` prints: DestinationRules that add subsets, "
               "wait, VirtualServices, wait, DestinationRules that remove subsets.",) if hazard.kind == "window" else (
               f"Define subset {hazard.subset} in the DestinationRule the route's clients use, or route elsewhere; "
               "no order of apply makes this change safe as it stands.",)
        findings.append(Problem(hazard.message, hazard.host,
            tuple(ResourceRef(kind, ns, name, role) for kind, ns, name, role in hazard.objects),
            {"hazard": "503 window during apply" if hazard.kind == "window" else "never safe",
             "subset": hazard.subset}, fix, subset=hazard.subset))
    return findings


@reads()
def _has_change(ctx: CheckContext) -> str | None:
    return None if ctx.change is not None else "needs a change to judge: pass -f FILES (what-if) or use `plan`"


@check("MD304", needs=("virtualservices", "destinationrules"), applies=_has_change)
def unsafe_apply_order(ctx: CheckContext) -> list[Problem]:
    assert ctx.change is not None
    return hazard_problems(plan(ctx.change, ctx.settings), ctx.target.host)


XDS_TYPES = (("cluster", "CDS"), ("listener", "LDS"), ("route", "RDS"), ("endpoint", "EDS"))


def read_syncz(answer: PortAnswer) -> list[dict[str, Any]] | str:
    """The proxies one istiod reports, or why its answer could not be read."""
    if answer.error:
        return answer.error
    if answer.via == "exec":  # `pilot-discovery request` prints the body only
        return _entries(answer.data, answer)
    head, _, body = answer.data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    if " 200" not in status:
        return f"answered {status!r}" + (" (1.11+ serves debug endpoints only on localhost or with a token)"
                                         if " 401" in status or " 403" in status else "")
    return _entries(body, answer)


def _entries(body: bytes, answer: PortAnswer) -> list[dict[str, Any]] | str:
    try:
        entries = json.loads(body or b"null")
    except ValueError:
        return "answered something that is not JSON" + (" (cut at the byte cap)" if answer.truncated else "")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else "answered no proxy list"


def sync_verdicts(entry: dict[str, Any]) -> dict[str, str]:
    """istioctl proxy-status's words per xDS type: SYNCED, NOT SENT, STALE, ERROR (1.23+)."""
    verdicts = {}
    for key, label in XDS_TYPES:
        sent, acked = str(entry.get(f"{key}_sent") or ""), str(entry.get(f"{key}_acked") or "")
        error = str(entry.get(f"{key}_error") or entry.get(f"{key}_last_error") or "")
        verdicts[label] = ("ERROR" if error else "NOT SENT" if not sent else "SYNCED" if sent == acked else
                           "STALE (never acknowledged)" if not acked else "STALE")
    return verdicts


@check("MD303", needs=("pods", "istiodpods"), applies=probed)
def proxies_not_synced(ctx: CheckContext) -> list[Problem]:
    answers = {f"{a.namespace}/{a.pod}": read_syncz(a) for a in ctx.evidence.syncz}
    readable = {pod: entries for pod, entries in answers.items() if isinstance(entries, list)}
    if not readable:
        why = "; ".join(f"{pod}: {err}" for pod, err in answers.items()) or "no running istiod pod was found"
        raise CannotTell(f"no istiod answered /debug/syncz: {why}")
    connected = {str(e.get("proxy")): (pod, e) for pod, entries in readable.items() for e in entries}
    problems: dict[str, tuple[dict[str, Any], str]] = {}  # proxy id -> (its pod, what is wrong)
    unacknowledged: list[dict[str, Any]] = []
    disconnected: list[str] = []
    details: dict[str, Any] = {}
    for pod in [*(p for p in host_pods(ctx) if has_sidecar(p)), *gateway_pods(ctx)]:
        proxy = f"{o.name(pod)}.{o.namespace(pod)}"
        if proxy not in connected:
            problems[proxy] = (pod, "not connected to any istiod")
            disconnected.append(proxy)
            details[proxy] = {"connected": False}
            continue
        istiod, entry = connected[proxy]
        verdicts = sync_verdicts(entry)
        details[proxy] = {"istiod": istiod, **verdicts}
        bad = {t: v for t, v in verdicts.items() if v.startswith(("STALE", "ERROR"))}
        if bad:
            problems[proxy] = (pod, f"{', '.join(f'{t} {v}' for t, v in bad.items())} on {istiod}")
            unacknowledged.append(pod)
    unread = {pod: err for pod, err in answers.items() if not isinstance(err, list)}
    if not problems:
        return []
    steps = [f"STALE/ERROR: the proxy has not accepted istiod's last push; look for 'rejected' in "
             f"`kubectl logs -n {o.namespace(pod)} {o.name(pod)} -c istio-proxy` and istiod's "
             "metric pilot_total_xds_rejects." for pod in unacknowledged[:1]]
    steps += [f"Not connected: check the istio-proxy container of {proxy} (readiness, its discovery address) and "
              "istiod's logs." for proxy in disconnected[:1]]
    steps.append("Wait a few seconds and run again before changing anything: pushes take time to arrive.")
    return [Problem(f"Proxies of {ctx.target.host} are not in sync with istiod, so they may still route by "
        "older rules: " + "; ".join(f"{p}: {why}" for p, (_, why) in problems.items())
        + (f" (not readable: {', '.join(unread)})" if unread else ""), ctx.target.host,
        tuple(ResourceRef("Pod", o.namespace(pod), o.name(pod), "proxy out of sync") for pod, _ in problems.values()),
        {"proxies": details, "istiods": {pod: ("read" if isinstance(v, list) else v) for pod, v in answers.items()}},
        tuple(steps))]
