"""Every implemented check, in one list. A check that is not here does not run."""

from __future__ import annotations

from kubectl_meshdoctor.checks import http10, ingress, ports, reconfiguration, routing, subsets, tcp, tls, workloads
from kubectl_meshdoctor.checks.base import Check

CHECKS: tuple[Check, ...] = (
    *routing.CHECKS,
    *tls.CHECKS,
    *subsets.CHECKS,
    *reconfiguration.CHECKS,
    *ingress.CHECKS,
    *workloads.CHECKS,
    *ports.CHECKS,
    *http10.CHECKS,
    *tcp.CHECKS,
)

IMPLEMENTED: frozenset[str] = frozenset(c.code for c in CHECKS)
