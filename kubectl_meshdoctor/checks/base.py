"""A check: its catalogue entry, the collections it needs, and the pure function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_meshdoctor.catalogue import BY_CODE, Entry
from kubectl_meshdoctor.checks.context import CheckContext
from kubectl_meshdoctor.report.model import Finding

CheckFn = Callable[[CheckContext], list[Finding]]


class NotApplicable(Exception):
    """Raised by a check whose question has no meaning for this target (e.g. endpoints of a host that
    no Service defines): reported as not-run with the reason, never as a pass."""


@dataclass(frozen=True)
class Check:
    entry: Entry
    run: CheckFn
    needs: tuple[str, ...]          # collections without which the check cannot say anything
    needs_istio: bool = True        # meaningless in a cluster without Istio's APIs

    @property
    def code(self) -> str:
        return self.entry.code


def check(code: str, needs: tuple[str, ...], needs_istio: bool = True) -> Callable[[CheckFn], Check]:
    def wrap(fn: CheckFn) -> Check:
        return Check(BY_CODE[code], fn, needs, needs_istio)
    return wrap
