"""Safe reconfiguration: would applying this change in one go open a 503 window?"""

from __future__ import annotations

from kubectl_meshdoctor.catalogue import BY_CODE
from kubectl_meshdoctor.checks.base import check, reads
from kubectl_meshdoctor.checks.context import CheckContext
from kubectl_meshdoctor.mesh.changes import Plan, plan
from kubectl_meshdoctor.report.model import Finding, ResourceRef


def hazard_findings(result: Plan, host: str | None = None) -> list[Finding]:
    """MD304 findings for the hazards of a plan (only those of `host`, when given)."""
    findings = []
    for hazard in result.hazards:
        if host is not None and hazard.host != host:
            continue
        fix = ("Apply in the order `kubectl meshdoctor plan -f CHANGE` prints: DestinationRules that add subsets, "
               "wait, VirtualServices, wait, DestinationRules that remove subsets.",) if hazard.kind == "window" else (
               f"Define subset {hazard.subset} in the DestinationRule the route's clients use, or route elsewhere; "
               "no order of apply makes this change safe as it stands.",)
        findings.append(Finding(
            BY_CODE["MD304"], hazard.message, hazard.host,
            tuple(ResourceRef(kind, ns, name, role) for kind, ns, name, role in hazard.objects),
            {"hazard": "503 window during apply" if hazard.kind == "window" else "never safe",
             "subset": hazard.subset}, fix, subset=hazard.subset))
    return findings


@reads()
def _has_change(ctx: CheckContext) -> str | None:
    return None if ctx.change is not None else "needs a change to judge: pass -f FILES (what-if) or use `plan`"


@check("MD304", needs=("virtualservices", "destinationrules"), applies=_has_change)
def unsafe_apply_order(ctx: CheckContext) -> list[Finding]:
    assert ctx.change is not None
    return hazard_findings(plan(ctx.change, ctx.settings), ctx.target.host)


CHECKS = (unsafe_apply_order,)
