"""Executes a read plan against the live cluster and grows one snapshot.

The plan itself (which collections, in which rounds, narrowed by which selectors) is declared in
run/readplan.py; this reader only connects, runs each round's LIST requests in parallel, keeps every
collection's outcome for the report, and hands out the snapshot so far (built once per round).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kubectl_meshdoctor.cluster.api import RawApi
from kubectl_meshdoctor.cluster.fetch import (
    Discovery,
    ListRequest,
    ListResult,
    PageSink,
    check_access,
    discover,
    list_collections,
)
from kubectl_meshdoctor.cluster.forked import ForkedList, Lost, can_fork
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions, connect
from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, State
from kubectl_meshdoctor.errors import ClusterError
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.model import Snapshot

ProgressFn = Callable[[str], None]


@dataclass
class LiveReader:
    """Reads the cluster and keeps every collection's outcome for the report."""

    api: RawApi
    context: str | None
    namespace: str
    progress: ProgressFn = lambda _msg: None
    discovery: Discovery | None = None
    server_version: str = ""
    results: list[ListResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requested: list[tuple[ListRequest, str]] = field(default_factory=list)  # every LIST sent, with its version
    _cached: tuple[tuple[int, int, str], Snapshot] | None = field(default=None, repr=False)
    _generation: int = 0  # bumped by every read, so the snapshot is rebuilt once per round
    _grown: tuple[int, str, Snapshot] | None = field(default=None, repr=False)  # (results in it, mode, snapshot)
    background: Background | None = None  # a round's streamed LIST, still being read

    @classmethod
    def open(cls, kube: KubeOptions, progress: ProgressFn = lambda _msg: None) -> LiveReader:
        """Connected, with the host-independent round read, for every command that reads the cluster.
        Credentials that can read nothing at all are one clear error (exit 3), not a report of skips."""
        conn = connect(kube)
        reader = cls(RawApi(conn.api_client, conn.timeout), conn.context, conn.namespace, progress)
        reader.start()
        if not reader.discovery or not reader.discovery.serves_istio():
            reader.notes.append("Istio is not installed in this cluster (no *.istio.io API): mesh checks skipped")
        return reader

    def fail_if_nothing_readable(self) -> None:
        states = [r.status.state for r in self.results]
        if states and all(s in (State.FORBIDDEN, State.NOT_SERVED) for s in states) and State.FORBIDDEN in states:
            raise ClusterError("forbidden: these credentials cannot list anything meshdoctor needs "
                               "(services, Istio configuration); ask for read access (the `view` ClusterRole)")
        errors = [r for r in self.results if r.status.state == State.ERROR]
        if errors and len(errors) == len(self.results):
            raise ClusterError(f"the API server failed every request: {errors[0].status.message}")

    def start(self) -> None:
        self.progress("contacting the API server")
        self.server_version = o.as_str(check_access(self.api).get("gitVersion"))
        self.discovery = discover(self.api)

    def read(self, requests: list[ListRequest], progress: str = "", retry_forbidden_in: tuple[str, ...] = ()) -> None:
        """One round: its LISTs in parallel. Collections forbidden cluster-wide are read again in
        `retry_forbidden_in` (many on-call users may read only some namespaces)."""
        if progress:
            self.progress(progress)
        self.adopt(self.lists(requests), retry_forbidden_in)

    def lists(self, requests: list[ListRequest], sink: PageSink | None = None, pause: bool = True,
              ) -> list[ListResult]:
        """The LISTs, in parallel, not yet recorded: safe to run in a thread of its own while this reader
        reads other rounds (a scan's pods, analysed as they arrive)."""
        assert self.discovery is not None, "start() first"
        return list_collections(self.api, self.discovery, requests, sink, pause)

    def read_in_background(self, requests: list[ListRequest], sink: PageSink, ended: Callable[[], None],
                           retry_forbidden_in: tuple[str, ...] = ()) -> None:
        """Starts LISTs in a thread of their own: the rounds after them run meanwhile (none may read
        them), their pages go to `sink` as they are parsed, `ended` is called when they are read, and
        finish_background() records them. The caller holds the collector paused until then."""
        self.background = Background(self, requests, sink, ended, retry_forbidden_in)
        self.background.thread.start()

    def finish_background(self) -> None:
        """Waits for the background LISTs and records them. The reader lets go of them: they point back
        to it, and a reader kept alive by that cycle keeps its connections open (a scan freezes what is
        alive for the collector, so the cycle would never be collected: sockets leaked run after run)."""
        background, self.background = self.background, None
        if background is not None:
            background.finish()

    def adopt(self, results: list[ListResult], retry_forbidden_in: tuple[str, ...] = ()) -> None:
        """Records what lists() read, as one round."""
        self._generation += 1
        self._record(results)
        if retry_forbidden_in:
            self._retry_forbidden_in(results, *retry_forbidden_in)

    def record(self, status: CollectionStatus) -> None:
        """The outcome of something read outside a LIST (logs, port-forwards), reported the same way."""
        self._generation += 1
        self.results.append(ListResult(ListRequest(status.resource), status))

    def snapshot(self, overlay: tuple[tuple[str, dict[str, Any]], ...] = (), mode: str = "live") -> Snapshot:
        """The snapshot of everything read so far (with the overlay laid on it), built once per round."""
        key = (self._generation, id(overlay), mode)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self._build(overlay, mode))
        return self._cached[1]

    def snapshot_indexed_as(self, indexed: Snapshot, mode: str = "live") -> Snapshot:
        """snapshot(), taking the indexes of `indexed` when they hold exactly what it would index: the
        partial snapshot a scan grew namespace by namespace while the pods arrived (run/early.py) holds,
        once they are all in, the snapshot built before them and every pod read since, in the order
        read. Indexing them again was a fifth of what a 10,000-pod scan did after its last byte. Checked
        object by object (by identity); anything else is built as snapshot() builds it."""
        grown = self._grown
        if grown is None or grown[1] != mode or len(self.results) != grown[0] + 1:
            return self.snapshot(mode=mode)
        base, (pods_read,) = grown[2], self.results[grown[0]:]
        key = BY_KEY[pods_read.request.resource].index
        if pods_read.request.namespace is not None or base.all(key) or not _same_objects(
                indexed.all(key), pods_read.items) or not _holds(indexed, base, key, len(pods_read.items)):
            return self.snapshot(mode=mode)
        snapshot = dataclasses.replace(base, statuses=MappingProxyType(self._statuses()), _by_key=indexed._by_key,
                                       _by_ns=indexed._by_ns, _by_name=indexed._by_name, _derived={})
        self._cached = ((self._generation, id(()), mode), snapshot)
        self._grown = (len(self.results), mode, snapshot)
        return snapshot

    def _statuses(self) -> dict[str, CollectionStatus]:
        statuses: dict[str, CollectionStatus] = {}
        for result in self.results:
            key = result.request.resource
            statuses[key] = result.status.worse(statuses[key]) if key in statuses else result.status
        return statuses

    def _build(self, overlay: tuple[tuple[str, dict[str, Any]], ...], mode: str) -> Snapshot:
        statuses = self._statuses()
        grown = self._grown
        if not overlay and grown is not None and grown[1] == mode and grown[0] <= len(self.results):
            # the rounds before were built already: only what the later rounds read is indexed
            snapshot = grown[2].grown(self._objects(self.results[grown[0]:]), statuses)
        else:
            objects = [*self._objects(self.results), *overlay]
            snapshot = Snapshot.build(objects, statuses, mode, self.context, self.server_version)
        if not overlay:
            self._grown = (len(self.results), mode, snapshot)
        return snapshot

    @staticmethod
    def _objects(results: list[ListResult]) -> list[tuple[str, dict[str, Any]]]:
        return [(BY_KEY[result.request.resource].index, item) for result in results for item in result.items]

    def made(self) -> list[dict[str, Any]]:
        """The LISTs made, for the benchmark's kubectl floor (bench/run.py)."""
        return [{"resource": BY_KEY[r.resource].path_name, "group": BY_KEY[r.resource].group, "version": version,
                 "namespace": r.namespace, "labelSelector": r.label_selector, "fieldSelector": r.field_selector,
                 "limit": r.max_items} for r, version in self.requested]

    def _record(self, results: list[ListResult]) -> None:
        for result in results:
            if result.version:  # a request was sent (not one discovery ruled out)
                self.requested.append((result.request, result.version))
            if result.request.resource == "appconfigmaps":  # keep NGINX configs; drop other apps' settings unread
                result.items = [cm for cm in result.items if _may_proxy(cm)]
            self.results.append(result)

    def _retry_forbidden_in(self, among: list[ListResult], *namespaces: str) -> None:
        """Many on-call users may read only some namespaces. A collection forbidden cluster-wide is
        read again in the user's namespace and the root namespace, and the report says the view is partial."""
        forbidden = [r for r in among
                     if r.status.state == State.FORBIDDEN and r.request.namespace is None and r.request.resource
                     not in ("namespaces", "meshpolicies")]
        if not forbidden:
            return
        self.results = [r for r in self.results if r not in forbidden]
        self._grown = None  # the results are no longer those a snapshot was built from, plus more
        assert self.discovery is not None
        again = [ListRequest(r.request.resource, ns, r.request.label_selector, r.request.field_selector)
                 for r in forbidden for ns in dict.fromkeys(namespaces)]
        retried = list_collections(self.api, self.discovery, again)
        self.requested.extend((r.request, r.version) for r in retried if r.version)
        for original in forbidden:
            key = original.request.resource
            readable = [r for r in retried if r.request.resource == key and r.status.ok]
            if not readable:
                self.results.append(original)
                continue
            where = ", ".join(str(r.request.namespace) for r in readable)
            self.results.extend(dataclasses.replace(r, status=CollectionStatus(
                key, State.PARTIAL, f"in {where} only", "forbidden in all namespaces, so objects elsewhere are "
                "not seen")) for r in readable)
            self.notes.append(f"{key}: forbidden in all namespaces; read only in {where}, objects elsewhere are "
                              "not seen")


@dataclass
class Background:
    """LISTs read while the reader goes on (by a forked process where it can: cluster/forked.py; else by
    a thread), received by a thread of this one; recorded, as their round would have recorded them, when
    finished."""

    reader: LiveReader
    requests: list[ListRequest]
    sink: PageSink
    ended: Callable[[], None]
    retry_forbidden_in: tuple[str, ...]
    results: list[ListResult] = field(default_factory=list)
    error: BaseException | None = None
    thread: threading.Thread = field(init=False)
    forked: ForkedList | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if can_fork(self.requests):  # forked now, in the caller's thread: before the round's threads start
            assert self.reader.discovery is not None, "start() first"
            with contextlib.suppress(OSError):  # no process to be had: a thread reads
                self.forked = ForkedList.start(self.reader.api, self.reader.discovery, self.requests[0])
        self.thread = threading.Thread(target=self._read, name="meshdoctor-background-list", daemon=True)

    def _read(self) -> None:
        try:
            try:
                self.results = self.forked.receive(self.sink) if self.forked is not None else \
                    self.reader.lists(self.requests, self.sink, pause=False)
            except Lost:  # read again here, from the start (what was sent is dropped, as when a LIST restarts)
                self.sink(None)
                self.results = self.reader.lists(self.requests, self.sink, pause=False)
        except BaseException as exc:  # raised again in the reader's thread, by finish()
            self.error = exc
        finally:
            self.ended()

    def abandon(self) -> None:
        """The run ends without it (an error, Ctrl-C): a forked reader stops reading now."""
        if self.forked is not None:
            self.forked.stop()

    def finish(self) -> None:
        """Waits for the LISTs and records them (the reader calls it once: finish_background lets go)."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        self.reader.adopt(self.results, self.retry_forbidden_in)


def _same_objects(indexed: tuple[dict[str, Any], ...], read: list[dict[str, Any]]) -> bool:
    return len(indexed) == len(read) and all(a is b for a, b in zip(indexed, read, strict=True))


def _holds(indexed: Snapshot, base: Snapshot, key: str, count: int) -> bool:
    """Whether `indexed` is `base` with `count` objects of `key` added (the objects themselves compared by
    the caller): every other collection's indexes are base's own, and nothing else was added."""
    return (indexed._by_key.keys() - {key} == base._by_key.keys()
            and all(indexed._by_key[k] is v for k, v in base._by_key.items())
            and {k for k in indexed._by_ns if k[0] != key} == base._by_ns.keys()
            and all(indexed._by_ns[k] is v for k, v in base._by_ns.items())
            and sum(len(v) for k, v in indexed._by_ns.items() if k[0] == key) == count
            and len(indexed._by_name) == len(base._by_name) + count
            and all(indexed._by_name.get(k) is v for k, v in base._by_name.items()))


def _may_proxy(configmap: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and "proxy_pass" in v for v in o.as_dict(configmap.get("data")).values())
