"""The Snapshot: every object a run looked at, indexed, plus how reading each collection went."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, State
from kubectl_meshdoctor.snapshot import objects as o

ObjectKey = tuple[str, str, str]  # (resource key, namespace, name)
T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """Immutable by contract: nothing after the loaders changes an object or an index."""

    mode: str  # live | offline | overlay
    statuses: Mapping[str, CollectionStatus]
    context: str | None = None
    server_version: str = ""
    _by_key: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict, repr=False)
    _by_ns: Mapping[tuple[str, str], tuple[dict[str, Any], ...]] = field(default_factory=dict, repr=False)
    _by_name: Mapping[ObjectKey, dict[str, Any]] = field(default_factory=dict, repr=False)
    # Values derived from the objects (indexes, selections), built once per snapshot and shared by every
    # host a scan analyses: the objects never change, so neither do they.
    _derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, objects: Iterable[tuple[str, dict[str, Any]]], statuses: Mapping[str, CollectionStatus],
              mode: str, context: str | None = None, server_version: str = "") -> Snapshot:
        """Later objects with the same identity replace earlier ones (how an overlay wins)."""
        return cls._indexed({}, objects, statuses, mode, context, server_version)

    def grown(self, objects: Iterable[tuple[str, dict[str, Any]]],
              statuses: Mapping[str, CollectionStatus]) -> Snapshot:
        """A new snapshot: this one's objects, then these (replacing any with the same identity), with these
        statuses: Snapshot.build of all of them, without indexing again the collections nothing was added
        to (a read round after the first adds a ConfigMap or a few gateway pods to 70,000 objects)."""
        return self._indexed(dict(self._by_name), objects, statuses, self.mode, self.context, self.server_version,
                             self)

    @classmethod
    def _indexed(cls, by_name: dict[ObjectKey, dict[str, Any]], objects: Iterable[tuple[str, dict[str, Any]]],
                 statuses: Mapping[str, CollectionStatus], mode: str, context: str | None, server_version: str,
                 base: Snapshot | None = None) -> Snapshot:
        added: set[str] = set()
        for key, obj in objects:
            by_name[(key, o.namespace(obj) if BY_KEY[key].namespaced else "", o.name(obj))] = obj
            added.add(key)
        by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        by_ns: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for (key, ns, _), obj in by_name.items():
            if base is None or key in added:
                by_key[key].append(obj)
                by_ns[(key, ns)].append(obj)
        kept_by_key = {k: v for k, v in base._by_key.items() if k not in added} if base is not None else {}
        kept_by_ns = {k: v for k, v in base._by_ns.items() if k[0] not in added} if base is not None else {}
        return cls(mode=mode, statuses=MappingProxyType(dict(statuses)), context=context,
                   server_version=server_version,
                   _by_key=MappingProxyType({**kept_by_key, **{k: tuple(v) for k, v in by_key.items()}}),
                   _by_ns=MappingProxyType({**kept_by_ns, **{k: tuple(v) for k, v in by_ns.items()}}),
                   _by_name=MappingProxyType(by_name))

    def objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(resource key, object) of every object, for a snapshot built over this one."""
        for (key, _, _), obj in self._by_name.items():
            yield key, obj

    def all(self, key: str) -> tuple[dict[str, Any], ...]:
        return self._by_key.get(key, ())

    def in_namespace(self, key: str, namespace: str) -> tuple[dict[str, Any], ...]:
        return self._by_ns.get((key, namespace), ())

    def get(self, key: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._by_name.get((key, namespace if BY_KEY[key].namespaced else "", name))

    def select(self, key: str, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        memo = ("select", key, namespace, tuple(sorted(selector.items())))
        if memo not in self._derived:
            self._derived[memo] = self._matching(self.in_namespace(key, namespace), (key, namespace), selector)
        return list(self._derived[memo])

    def select_everywhere(self, key: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        """Objects of every namespace whose labels match, once per snapshot and selector."""
        memo = ("select-everywhere", key, tuple(sorted(selector.items())))
        if memo not in self._derived:
            self._derived[memo] = self._matching(self.all(key), (key, None), selector)
        return list(self._derived[memo])

    def _matching(self, pool: tuple[dict[str, Any], ...], scope: tuple[str, str | None],
                  selector: dict[str, str]) -> tuple[dict[str, Any], ...]:
        """Through an index of the pool's labels, built once per collection and namespace: a scan
        selects the pods of a thousand Services from the same namespaces."""
        if not selector:
            return pool
        index = self.derived(("label-index", *scope), lambda: _label_index(pool))
        positions: set[int] | None = None
        for item in selector.items():
            found = index.get(item, set())
            positions = found if positions is None else positions & found
            if not positions:
                return ()
        return tuple(pool[i] for i in sorted(positions or ()))

    def derived(self, key: Any, build: Callable[[], T]) -> T:
        """build(), once per snapshot and key. (One lookup when it is known: asked a hundred times per
        host of a scan.)"""
        found = self._derived.get(key, _MISSING)
        if found is _MISSING:
            found = self._derived[key] = build()
        return cast(T, found)

    def derived_for(self, obj: Any, key: Any, build: Callable[[], T]) -> T:
        """build(), once per snapshot, key and object. The object is kept with the value, so its id
        cannot be reused by another object while the memo lives (callers may pass objects the snapshot
        does not hold)."""
        memo = (key, id(obj))
        found = self._derived.get(memo)
        if found is None:
            found = self._derived[memo] = (obj, build())
        return cast(T, found[1])

    def status(self, key: str) -> CollectionStatus:
        return self.statuses.get(key) or CollectionStatus(key, State.ABSENT, "(not read by this run)")

    def readable(self, key: str) -> bool:
        return self.status(key).ok


_MISSING = object()  # not derived yet (None is a value some derivations have)


def _label_index(pool: tuple[dict[str, Any], ...]) -> dict[tuple[str, str], set[int]]:
    index: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, obj in enumerate(pool):
        for item in o.labels(obj).items():
            index[item].add(i)
    return dict(index)
