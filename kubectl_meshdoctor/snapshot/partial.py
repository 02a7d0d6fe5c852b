"""A snapshot whose pods are still arriving: what a scan of every namespace analyses during the read.

The API server lists pods in key order, namespace by namespace (etcd's keys are
/registry/pods/<namespace>/<name>, and the watch cache keeps the same order), so the pods of a namespace
are all in once a pod of another namespace has arrived. A PartialSnapshot holds every other collection
whole, and the pods of the namespaces known to be complete; it answers like the snapshot of the whole read
would, except about pods still to come. It watches every read of pods: one that might see a difference (a
namespace not yet complete, or the pods of every namespace) taints the work in progress, and so does
using a derived value whose making was tainted. Untainted work read only what the whole read holds
unchanged, so its result stands; tainted work is done again once every pod is in. Whether the order held
(each namespace's pods in one run) is checked when the read ends, by whoever relies on it.

One read is answered rather than tainting: the pods of every namespace that a selector picks (where a
Gateway's proxies run, the ztunnels). Only every pod can tell, and nearly always the pods already in
are the answer (the ingress gateway's namespace came long before the end). So it is answered from the
complete namespaces and the answer is *assumed*: the work, and every value derived with it, remembers
it, and the work stands only if the whole read answers the same (`holds`); else it is done again.

The snapshots of one read share their Watch, and pods are always read from the latest (a value derived
over an earlier snapshot and carried over may read through it). The last, `whole`, holds every pod: the
hosts left when the read ends are analysed over it, with the indexes the early analyses built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

from kubectl_meshdoctor.cluster.resources import CollectionStatus
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.model import Snapshot

PODS = "pods"
T = TypeVar("T")


# What was assumed: (collection, selector items) -> the ids of the objects answered, in order.
Assumed = Mapping[tuple[str, tuple[tuple[str, str], ...]], tuple[int, ...]]


@dataclass
class _Making:
    """A derived value being made: whether its making read pods that may change, and what it assumes
    (from the start, all the work assumed so far: the making may rest on values passed in)."""

    read_changing: bool
    assumed: dict[Any, tuple[int, ...]]


@dataclass
class Watch:
    """Shared by the partial snapshots of one read (a value derived over an earlier one may read through
    it later): whether the work since the last reset read pods that may still change, what it assumed,
    and the same for each derived value being made."""

    tainted: bool = False
    assumed: dict[Any, tuple[int, ...]] = field(default_factory=dict)
    making: list[_Making] = field(default_factory=list)  # one per derived value being made, innermost last
    stop_at_taint: bool = False  # raise Tainted: work that will be done again need not go on
    latest: PartialSnapshot | None = field(default=None, repr=False)  # the one with the most pods

    def reset(self, stop_at_taint: bool = False) -> None:
        """Before a new piece of work (a host)."""
        self.tainted, self.assumed, self.stop_at_taint = False, {}, stop_at_taint

    def taint(self) -> None:
        self.tainted = True
        for making in self.making:
            making.read_changing = True
        if self.stop_at_taint:
            raise Tainted

    def assume(self, assumed: Assumed) -> None:
        self.assumed.update(assumed)
        for making in self.making:
            making.assumed.update(assumed)


class Tainted(BaseException):
    """Out of work the watch was told to stop at its first taint (a host's analysis, to be done again with
    every pod). A BaseException: a check's own error handling must not turn it into a result."""


@dataclass(frozen=True)
class _Made:
    """How a derived value was made: whether its making read what may change (then using it taints), and
    whether the work that made it had (then it is not carried to the next snapshot: it may rest on pods
    the work read before the making began, passed in rather than read)."""

    read_changing: bool
    by_tainted_work: bool
    assumed: Assumed  # using it assumes the same


@dataclass(frozen=True)
class PartialSnapshot(Snapshot):
    complete: frozenset[str] = frozenset()  # the namespaces whose pods are all here
    arrived: tuple[str, ...] = ()  # the same, in the order they arrived
    whole: bool = False  # every pod is here (the LIST has ended)
    watch: Watch = field(default_factory=Watch, repr=False, compare=False)
    # derived key -> how it was made (a key missing here is never carried to the next snapshot)
    _made: dict[Any, _Made] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def over(cls, base: Snapshot, statuses: Mapping[str, CollectionStatus], watch: Watch) -> PartialSnapshot:
        """`base` (every collection but the pods) with no pods yet, and the statuses the whole read will have."""
        return cls(mode=base.mode, statuses=MappingProxyType(dict(statuses)), context=base.context,
                   server_version=base.server_version, _by_key=base._by_key, _by_ns=base._by_ns,
                   _by_name=base._by_name, watch=watch)

    def with_namespaces(self, pods: Mapping[str, Sequence[dict[str, Any]]], whole: bool = False) -> PartialSnapshot:
        """A new snapshot with the pods of more complete namespaces (in the order they arrived), `whole`
        when they are the last; it becomes the watch's latest. Derived values made by untainted work are
        carried over: they rest on nothing that changes (the shared indexes of a scan are built once, not
        once per snapshot)."""
        assert not self.complete & pods.keys(), "a complete namespace does not grow"
        by_name = dict(self._by_name)
        by_ns = dict(self._by_ns)
        added: list[dict[str, Any]] = []
        for namespace, arrived in pods.items():
            some = tuple({o.name(pod): pod for pod in arrived}.values())  # as Snapshot.build: the last one wins
            by_ns[(PODS, namespace)] = some
            added += some
            by_name.update(((PODS, namespace, o.name(pod)), pod) for pod in some)
        made = {key: how for key, how in self._made.items() if not how.by_tainted_work}
        grown = PartialSnapshot(
            mode=self.mode, statuses=self.statuses, context=self.context, server_version=self.server_version,
            _by_key=MappingProxyType({**self._by_key, PODS: (*self._by_key.get(PODS, ()), *added)}),
            _by_ns=MappingProxyType(by_ns), _by_name=MappingProxyType(by_name),
            _derived={key: self._derived[key] for key in made}, complete=self.complete | pods.keys(),
            arrived=(*self.arrived, *pods),
            watch=self.watch, _made=made, whole=whole)
        self.watch.latest = grown
        return grown

    def _pods(self, namespace: str | None) -> PartialSnapshot:
        """Where pods are read: the latest snapshot of the read, whichever snapshot is asked (a value
        derived over an earlier one and carried over may read through it). Taints the work if the answer
        might differ from the whole read's."""
        latest = self.watch.latest or self
        if not latest.whole and (namespace is None or namespace not in latest.complete):
            self.watch.taint()
        return latest

    def objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watch.taint()  # (in another order than the whole read's)
        return super().objects()

    def all(self, key: str) -> tuple[dict[str, Any], ...]:
        return Snapshot.all(self._pods(None), key) if key == PODS else super().all(key)

    def in_namespace(self, key: str, namespace: str) -> tuple[dict[str, Any], ...]:
        return Snapshot.in_namespace(self._pods(namespace), key, namespace) if key == PODS else \
            super().in_namespace(key, namespace)

    def get(self, key: str, namespace: str, name: str) -> dict[str, Any] | None:
        return Snapshot.get(self._pods(namespace), key, namespace, name) if key == PODS else \
            super().get(key, namespace, name)

    def select(self, key: str, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        return Snapshot.select(self._pods(namespace), key, namespace, selector) if key == PODS else \
            super().select(key, namespace, selector)

    def select_everywhere(self, key: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        """Before the last pod: the pods of the complete namespaces, assumed to be the answer (`holds`);
        none taints (the work waits for every pod: assuming none would nearly always be belied). In the
        order of the whole read's answer: the complete namespaces' pods come first in it, in this
        order (a namespace's own selection is indexed once, and carried from snapshot to snapshot)."""
        if key != PODS:
            return super().select_everywhere(key, selector)
        latest = self.watch.latest or self
        if latest.whole:
            return Snapshot.select_everywhere(latest, key, selector)
        items = tuple(sorted(selector.items()))
        memo = ("assumed-selection", key, items)  # once per snapshot and selector (a gateway's, for every host)
        if memo not in latest._derived:
            # it rests on nothing the work assumed: made apart from it (nothing it makes is passed that on)
            assumed, self.watch.assumed = self.watch.assumed, {}
            try:
                found = tuple(pod for namespace in latest.arrived
                              for pod in Snapshot.select(latest, key, namespace, selector))
            finally:
                self.watch.assumed = assumed
            latest._derived[memo] = (found, tuple(map(id, found)))
        found, ids = latest._derived[memo]
        if not found:  # none yet: their namespace is still to come (a Gateway without proxies is rare)
            self.watch.taint()
        else:
            self.watch.assume({(key, items): ids})
        return list(found)

    def holds(self, assumed: Assumed) -> bool:
        """Whether the whole read answers what was assumed (asked of the snapshot holding every pod)."""
        assert self.whole, "only every pod can tell"
        return all(tuple(map(id, Snapshot.select_everywhere(self, key, dict(selector)))) == ids
                   for (key, selector), ids in assumed.items())

    def derived(self, key: Any, build: Callable[[], T]) -> T:
        return cast(T, self._remembered(key, build))

    def derived_for(self, obj: Any, key: Any, build: Callable[[], T]) -> T:
        return cast(T, self._remembered((key, id(obj)), lambda: (obj, build()))[1])

    def _remembered(self, key: Any, build: Callable[[], Any]) -> Any:
        """Using a value whose making read pods that may change taints the work that uses it; using one
        made with assumptions assumes them too."""
        how = self._made.get(key)
        if how is not None:
            if how.read_changing:
                self.watch.taint()
            if how.assumed:
                self.watch.assume(how.assumed)
            return self._derived[key]
        making = _Making(False, dict(self.watch.assumed))
        self.watch.making.append(making)
        try:
            value = build()
        finally:
            self.watch.making.pop()
        self._derived[key] = value
        self._made[key] = _Made(making.read_changing, self.watch.tainted, MappingProxyType(making.assumed))
        return value
