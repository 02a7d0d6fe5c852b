"""A check: its catalogue entry, the collections it needs, and the pure function that runs it.

As in checkov, defining a check registers it: `@check("MD201", needs=...)` looks the entry up once,
wraps the function and appends it to REGISTERED. The function yields Problems; the runner stamps the
entry on each, so the code is written once, in the decorator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubectl_meshdoctor.checks.catalogue import BY_CODE, Entry
from kubectl_meshdoctor.checks.context import CheckContext, reads
from kubectl_meshdoctor.checks.findings import Finding, Problem

CheckFn = Callable[[CheckContext], Iterable[Problem]]
AppliesFn = Callable[[CheckContext], str | None]  # None: applies; else why the question has no meaning here
Need = tuple[str, ...]  # collections any one of which will do (PeerAuthentication on 1.5+, or the legacy Policy)
__all__ = ["REGISTERED", "AppliesFn", "Check", "CheckFn", "Need", "check", "reads"]

REGISTERED: list[Check] = []


@dataclass(frozen=True, eq=False)
class Check:
    """Registered once: one object per check, so compared and hashed as itself."""

    entry: Entry
    run: CheckFn
    needs: tuple[Need, ...]          # without one of each, the check cannot say anything
    needs_istio: bool = True         # meaningless in a cluster without Istio's APIs
    applies: AppliesFn | None = None  # asked first: a question without meaning is not-run, never passed
    uses: tuple[str, ...] = ()       # read when they can be, but the check can answer without them

    @property
    def code(self) -> str:
        return self.entry.code

    @property
    def collections(self) -> frozenset[str]:
        """Every collection the check may read: what a read plan must fetch for it."""
        return frozenset(key for need in self.needs for key in need)

    def findings(self, problems: Iterable[Problem]) -> list[Finding]:
        return [Finding.of(self.entry, p) for p in problems]


def check(code: str, needs: tuple[str | Need, ...], needs_istio: bool = True,
          applies: AppliesFn | None = None, uses: tuple[str, ...] = ()) -> Callable[[CheckFn], Check]:
    """needs: collection keys, or tuples of alternatives; uses: collections read when available."""
    if code in {c.code for c in REGISTERED}:
        raise ValueError(f"{code} is registered twice")

    def wrap(fn: CheckFn) -> Check:
        chk = Check(BY_CODE[code], fn, tuple((n,) if isinstance(n, str) else n for n in needs), needs_istio, applies,
                    uses)
        REGISTERED.append(chk)
        return chk
    return wrap
