"""Every implemented check: importing the family modules registers their checks (checks/base.py)."""

from __future__ import annotations

from kubectl_meshdoctor.checks import (
    ambient,
    gatewayapi,
    http10,
    ingress,
    proxyconfig,
    reconfiguration,
    routing,
    tcp,
    tls,
    workloads,
)
from kubectl_meshdoctor.checks.base import REGISTERED, Check

# one module per family
FAMILY_MODULES = (routing, tls, reconfiguration, ingress, gatewayapi, workloads, ambient, http10, tcp,
                  proxyconfig)
CHECKS: tuple[Check, ...] = tuple(REGISTERED)
IMPLEMENTED: frozenset[str] = frozenset(c.code for c in CHECKS)
BY_CODE: dict[str, Check] = {c.code: c for c in CHECKS}
