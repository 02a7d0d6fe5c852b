"""Runs the registered checks over one target, turning missing data into `skipped`, never `passed`."""

from __future__ import annotations

import logging
from functools import lru_cache

from kubectl_meshdoctor.checks.base import Check, Need
from kubectl_meshdoctor.checks.catalogue import FAMILY_ORDER, Entry
from kubectl_meshdoctor.checks.context import CannotTell, CheckContext, NothingToJudge, Superseded
from kubectl_meshdoctor.checks.findings import CheckResult, Finding
from kubectl_meshdoctor.checks.severity import CheckStatus
from kubectl_meshdoctor.cluster.resources import State

log = logging.getLogger(__name__)


def run_checks(ctx: CheckContext, checks: tuple[Check, ...]) -> tuple[list[CheckResult], list[Finding]]:
    results: list[CheckResult] = []
    findings: list[Finding] = []
    for chk in _in_report_order(checks):
        status, reason = _gate(ctx, chk)
        if status is not None:
            results.append(_result(chk.entry, status, reason))
            continue
        try:
            found = chk.findings(chk.run(ctx))
        except CannotTell as exc:
            results.append(_result(chk.entry, CheckStatus.SKIPPED, str(exc)))
            continue
        except Superseded as exc:
            results.append(_result(chk.entry, CheckStatus.NOT_RUN, f"superseded: {exc}"))
            continue
        except NothingToJudge as exc:
            results.append(_result(chk.entry, CheckStatus.NOT_RUN, str(exc)))
            continue
        except Exception as exc:  # a bug must not hide the other checks' results or pass silently
            log.debug("check %s failed", chk.code, exc_info=True)
            results.append(_result(chk.entry, CheckStatus.SKIPPED, f"internal error in the check: {exc!r}"))
            continue
        findings.extend(found)
        partial = _partial_data(ctx, chk)
        if found:
            results.append(_result(chk.entry, CheckStatus.FAILED, partial))
        else:
            results.append(_result(chk.entry, CheckStatus.PARTIAL if partial else CheckStatus.PASSED, partial))
    return results, findings


@lru_cache(maxsize=64)
def _in_report_order(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    """By family, then code: once per set of checks, not for every host of a scan."""
    return tuple(sorted(checks, key=lambda c: (FAMILY_ORDER[c.entry.family], c.code)))


@lru_cache(maxsize=8192)
def _result(entry: Entry, status: CheckStatus, reason: str = "") -> CheckResult:
    """One object per outcome: the hosts of a scan mostly share theirs, and a shared object is pickled
    once per run of hosts a forked worker sends back (copying 47 of them per host was a tenth of the
    analysis of a 50,000-pod scan)."""
    return CheckResult(entry, status, reason)


def _partial_data(ctx: CheckContext, chk: Check) -> str:
    """Why the check saw only part of what it is about (a collection read in some namespaces only,
    some pods' logs unreadable): then finding nothing is not a pass. The statuses are the snapshot's,
    the same for every host of a scan: worked out once per check."""
    return ctx.snapshot.derived(("partial-data", chk.entry.code), lambda: "; ".join(
        ctx.snapshot.status(key).reason() for key in sorted(chk.collections | set(chk.uses))
        if ctx.snapshot.status(key).state == State.PARTIAL))


def _live_only(ctx: CheckContext, chk: Check) -> str | None:
    """Checks the user did not ask for: not-run, which does not make the run incomplete."""
    if chk.entry.live and not ctx.live:
        return "live only: needs the cluster (not run with --offline)"
    return None


def _gate(ctx: CheckContext, chk: Check) -> tuple[CheckStatus | None, str]:
    """Whether a check runs. Order matters: `applies` is asked only once the data it reads is known to
    be readable (else "could not see" would pass for "does not apply"), and before the check's other
    data (so an inapplicable question is not-run even when data it would never use is missing)."""
    live_only, applies_missing, needs_missing = _static_gate(ctx, chk)
    if live_only:
        return CheckStatus.NOT_RUN, live_only
    if chk.applies is not None:
        if applies_missing:
            return CheckStatus.SKIPPED, applies_missing
        answers = ctx.gate_answers
        if chk.applies not in answers:
            answers[chk.applies] = chk.applies(ctx)
        not_applicable = answers[chk.applies]
        if not_applicable:
            return CheckStatus.NOT_RUN, not_applicable
    return (CheckStatus.SKIPPED, needs_missing) if needs_missing else (None, "")


def _static_gate(ctx: CheckContext, chk: Check) -> tuple[str | None, str | None, str | None]:
    """The parts of the gate that depend on the snapshot only (live or offline, which collections were
    read): worked out once per check, not for every host of a scan. (live-only reason, data `applies`
    reads that is missing, data the check needs that is missing.)"""
    def build() -> tuple[str | None, str | None, str | None]:
        reads = getattr(chk.applies, "reads", None)
        applies_needs = chk.needs if reads is None else tuple((key,) for key in reads)
        return _live_only(ctx, chk), _missing_data(ctx, chk, applies_needs), _missing_data(ctx, chk, chk.needs)
    return ctx.snapshot.derived(("gate", chk.entry.code), build)


def _missing_data(ctx: CheckContext, chk: Check, needs: tuple[Need, ...]) -> str | None:
    """Checks that were asked for but cannot see their data: skipped, and the run is incomplete."""
    if chk.needs_istio and ctx.snapshot.status("virtualservices").state == State.NOT_SERVED:
        return "Istio is not installed: the API server does not serve networking.istio.io"
    for alternatives in needs:
        statuses = [ctx.snapshot.status(key) for key in alternatives]
        if not any(s.ok for s in statuses):
            return statuses[0].reason()
    return None
