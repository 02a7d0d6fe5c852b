"""`scan -A`: hosts analysed while the pods are still arriving.

Listing every pod is most of what a scan of a big cluster waits for, and this process is idle while the
API server pages them: at 50,000 pods the fake API server takes 7 s to serve what this process parses in
2 s. So the hosts of a namespace are analysed as soon as its pods are all in, over a PartialSnapshot of
what has arrived, while a thread goes on reading.

That is only worth anything if it can never change a report. It rests on three things, each checked:
- The API server returns pods in key order, namespace by namespace: a namespace is complete once a pod of
  another arrives. Checked as pods arrive; if a namespace comes back, or the LIST starts over (an expired
  continue token), everything analysed early is dropped.
- A host's analysis reads only pods of complete namespaces: the PartialSnapshot watches every read of
  pods (and every shared value made from them), and a host that read anything else is analysed again
  with everything read. One read is answered from what has arrived and assumed (where a Gateway's
  proxies run): the host's report stands only if the whole read answers the same.
- The early analyses saw what the whole read ends with: the same collection statuses (pods read whole),
  the same mesh settings and notes. Compared at the end; if anything differs, all are dropped.
What is dropped is analysed again once every pod is in, as every host was before; MESHDOCTOR_EARLY=0
turns this off (the answer is the same, only later).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import queue
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from kubectl_meshdoctor.cluster.fetch import ListRequest
from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, State
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.partial import PODS, Assumed, PartialSnapshot, Tainted, Watch

if TYPE_CHECKING:
    from kubectl_meshdoctor.run.scope import Scope

log = logging.getLogger(__name__)
T = TypeVar("T")

_END, _RESTART = object(), object()
# While this thread analyses, the reading thread needs the interpreter back after each socket read; with
# Python's default switch interval (5 ms) it waits that long each time, and asks for the next page late:
# reading 50,000 pods beside a busy thread took 10.8 s instead of 8.7 s; 9.2 s at 0.5 ms, 9.0 s at 0.1 ms
# (the benchmark's 2-core machine; `scan -A` at 50k pods: 11.7-12.1 s at 0.1 ms, 12.5-12.7 s at 0.5 ms).
SWITCH_INTERVAL = 0.0001


def enabled() -> bool:
    return os.environ.get("MESHDOCTOR_EARLY", "") != "0"


@dataclass
class Arrivals:
    """The pods as the reading thread parses them (a run/reading.PodStream), queued for this one."""

    pages: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)

    def page(self, items: list[dict[str, Any]] | None) -> None:
        self.pages.put(_RESTART if items is None else items)

    def end(self) -> None:
        self.pages.put(_END)


@dataclass
class _Order:
    """Which namespaces are complete, from the order their pods arrive in."""

    arrived: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # namespace -> its pods, in order
    current: str | None = None
    ready: list[str] = field(default_factory=list)  # complete, not yet in a snapshot
    broken: str = ""  # why what was analysed early cannot stand

    def take(self, pods: list[dict[str, Any]]) -> None:
        for pod in pods:
            namespace = o.namespace(pod)
            if namespace != self.current:
                if namespace in self.arrived:
                    self.broken = f"the pods of {namespace} did not arrive together"
                    return
                if self.current is not None:
                    self.ready.append(self.current)
                self.current = namespace
                self.arrived[namespace] = []
            self.arrived[namespace].append(pod)


@dataclass
class Early:
    """Reports made before the last pod arrived, and what they assumed."""

    reports: dict[str, Report | None] = field(default_factory=dict)
    assumed: dict[str, Assumed] = field(default_factory=dict)  # what a report stands on (PartialSnapshot.holds)
    statuses: Mapping[str, CollectionStatus] = field(default_factory=dict)
    settings: MeshSettings | None = None
    notes: tuple[str, ...] = ()
    broken: str = ""
    # every pod, with the indexes the early analyses built: where the other hosts are analysed
    whole: PartialSnapshot | None = None

    def standing(self) -> dict[str, Report | None]:
        """The reports whose assumptions the whole read bears out (once it agrees)."""
        whole = self.whole
        return {host: report for host, report in self.reports.items()
                if whole is not None and whole.holds(self.assumed.get(host, {}))}

    def agrees(self, scope: Scope) -> bool:
        """Whether what was analysed early stands, now that everything is read (all of it, or none)."""
        final = scope.snapshot
        agrees = (not self.broken and self.settings is not None and dict(self.statuses) == dict(final.statuses)
                  and self.settings == scope.settings and self.settings.proxy_metadata == scope.settings.proxy_metadata
                  and self.notes == scope.notes)
        if not agrees:
            log.debug("hosts analysed early are analysed again: %s", self.broken or "the whole read differs")
        return agrees


def assumed_statuses(snapshot: Snapshot, streamed: list[ListRequest]) -> dict[str, CollectionStatus]:
    """The statuses the whole read will have if the streamed LISTs succeed."""
    return {**snapshot.statuses, **{r.resource: CollectionStatus(r.resource, State.OK, r.scope()) for r in streamed}}


def analyse_while_arriving(arrivals: Arrivals, streamed: list[ListRequest], base: Snapshot,
                           scope_of: Callable[[Snapshot], Scope], hosts_of: Callable[[Scope], dict[str, list[str]]],
                           analyse: Callable[[Scope, str], Report | None]) -> Early:
    """Until the streamed LIST ends: the hosts of each namespace (hosts_of: namespace -> its hosts)
    analysed over the pods that have arrived, as soon as the namespace is complete. `base` holds
    everything else read; scope_of makes the scope of a snapshot (its mesh settings, the notes)."""
    if [BY_KEY[r.resource].index for r in streamed] != [PODS] or base.all(PODS):
        return Early(broken="not a read of every pod on its own")
    watch = Watch()
    snapshot = PartialSnapshot.over(base, assumed_statuses(base, streamed), watch)
    scope = scope_of(snapshot)
    hosts = hosts_of(scope)
    if watch.tainted:  # the settings or the hosts rest on pods: nothing can be done before they are in
        return Early(broken="the mesh settings or the hosts read pods")
    early = Early(statuses=snapshot.statuses, settings=scope.settings, notes=scope.notes)
    order = _Order()
    pending: deque[str] = deque()
    with _switching_often():
        try:
            while not early.broken and _take(arrivals, order, early, block=not pending and not order.ready):
                if not pending and order.ready:
                    snapshot = snapshot.with_namespaces({ns: order.arrived[ns] for ns in order.ready})
                    scope = dataclasses.replace(scope, snapshot=snapshot)
                    pending.extend(order.ready)
                    order.ready.clear()
                if pending:
                    # stopped at its first read of pods still to come: it waits for every pod, and meanwhile
                    # costs little of the time the reading leaves for analysis
                    analysed = watched(functools.partial(analyse, scope), watch, stop_at_taint=True)
                    for host in hosts.get(pending.popleft(), ()):
                        with contextlib.suppress(Tainted):
                            early.reports[host], _, assumed = analysed(host)
                            if assumed:
                                early.assumed[host] = assumed
            if not early.broken:
                early.whole = snapshot.with_namespaces({ns: pods for ns, pods in order.arrived.items()
                                                        if ns not in snapshot.complete}, whole=True)
        except Exception as exc:  # analysed again with everything read, where a real error surfaces
            early.broken = f"analysing early failed: {exc!r}"
    return early


def watched(analyse: Callable[[str], T], watch: Watch, stop_at_taint: bool = False,
            ) -> Callable[[str], tuple[T, bool, Assumed]]:
    """analyse(host), whether it read pods through a snapshot that did not hold them all (then it is
    analysed again over the whole read), and what it assumed of the whole read (PartialSnapshot.holds);
    with `stop_at_taint`, Tainted is raised at that first read."""
    def run(host: str) -> tuple[T, bool, Assumed]:
        watch.reset(stop_at_taint)
        try:
            return analyse(host), watch.tainted, watch.assumed
        finally:
            watch.stop_at_taint = False
    return run


def _take(arrivals: Arrivals, order: _Order, early: Early, block: bool) -> bool:
    """Takes what has arrived (waiting for something when there is nothing to do); False once the LIST
    has ended: what is left is analysed with everything read."""
    while True:
        try:
            item = arrivals.pages.get() if block else arrivals.pages.get_nowait()
        except queue.Empty:
            return True
        block = False
        if item is _END:
            return False
        if item is _RESTART:
            early.broken = "the pods LIST started over"
            return False
        order.take(item)
        if order.broken:
            early.broken = order.broken
            return False


@contextlib.contextmanager
def _switching_often() -> Iterator[None]:
    was = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(was)
