"""Every implemented check: importing the family modules registers their checks (checks/base.py)."""

from __future__ import annotations

from kubectl_meshdoctor.checks import ambient, http10, ingress, reconfiguration, routing, tcp, tls, workloads
from kubectl_meshdoctor.checks.base import REGISTERED, Check

FAMILY_MODULES = (routing, tls, reconfiguration, ingress, workloads, ambient, http10, tcp)  # one module per family
CHECKS: tuple[Check, ...] = tuple(REGISTERED)
IMPLEMENTED: frozenset[str] = frozenset(c.code for c in CHECKS)
BY_CODE: dict[str, Check] = {c.code: c for c in CHECKS}
