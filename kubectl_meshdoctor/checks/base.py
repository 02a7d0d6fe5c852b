"""A check: its catalogue entry, the collections it needs, and the pure function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_meshdoctor.checks.catalogue import BY_CODE, Entry
from kubectl_meshdoctor.checks.context import CheckContext, reads
from kubectl_meshdoctor.report.model import Finding

CheckFn = Callable[[CheckContext], list[Finding]]
AppliesFn = Callable[[CheckContext], str | None]  # None: applies; else why the question has no meaning here
__all__ = ["AppliesFn", "Check", "CheckFn", "check", "reads"]


@dataclass(frozen=True)
class Check:
    entry: Entry
    run: CheckFn
    needs: tuple[str, ...]          # collections without which the check cannot say anything
    needs_istio: bool = True        # meaningless in a cluster without Istio's APIs
    applies: AppliesFn | None = None  # asked first: a question without meaning is not-run, never passed

    @property
    def code(self) -> str:
        return self.entry.code


def check(code: str, needs: tuple[str, ...], needs_istio: bool = True,
          applies: AppliesFn | None = None) -> Callable[[CheckFn], Check]:
    def wrap(fn: CheckFn) -> Check:
        return Check(BY_CODE[code], fn, needs, needs_istio, applies)
    return wrap
