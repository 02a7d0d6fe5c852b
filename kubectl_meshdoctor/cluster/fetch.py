"""Parallel, paginated LISTs of exactly the collections a run needs.

Each collection is read once, in a bounded thread pool, with server-side selectors where they
narrow the set (the pods of one Service, not all pods: PERF-FLOOR.md). A failure never raises out
of here except for problems that make the whole cluster unusable (bad credentials): every other
outcome is a CollectionStatus that the checks turn into "skipped, because ...".
"""

from __future__ import annotations

import contextlib
import gc
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.cluster.api import ApiStatusError, RawApi, decode_json
from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, Resource, State
from kubectl_meshdoctor.cluster.trim import trim, without_managed_fields
from kubectl_meshdoctor.errors import AuthenticationFailed, ClusterUnreachable

PAGE_SIZE = 500
# Every LIST of a round at once: the configuration round is about twenty small LISTs, and a LIST that
# waits for a free worker behind others that time out adds a request timeout of its own (a stopped API
# server took three timeouts to notice with 8 workers). The API server's in-flight limit is 400.
MAX_WORKERS = 32
# Told each page's items as they are parsed, and None when the LIST starts over (its continue token
# expired): a scan analyses hosts while the pods are still arriving (run/early.py).
PageSink = Callable[[list[dict[str, Any]] | None], None]


@dataclass(frozen=True)
class ListRequest:
    resource: str
    namespace: str | None = None  # None: all namespaces (or cluster-scoped)
    label_selector: str = ""
    field_selector: str = ""
    max_items: int = 0  # a sample: stop after this many (0: all)

    def scope(self) -> str:
        where = f"in {self.namespace}" if self.namespace else (
            "in all namespaces" if BY_KEY[self.resource].namespaced else "at the cluster scope")
        sel = ", ".join(s for s in (self.label_selector, self.field_selector) if s)
        return f"{where} ({sel})" if sel else where


@dataclass
class ListResult:
    request: ListRequest
    status: CollectionStatus
    items: list[dict[str, Any]] = field(default_factory=list)
    unreachable: str = ""  # the server did not answer (timed out, refused): not the collection's fault
    version: str = ""  # the API version listed; empty when discovery says the server does not serve it


@dataclass(frozen=True)
class Discovery:
    """Which group/versions the server serves; core v1 is always assumed."""

    groups: dict[str, tuple[str, ...]]

    def version_for(self, resource: Resource) -> str | None:
        if not resource.group:
            return "v1"
        served = self.groups.get(resource.group, ())
        return next((v for v in resource.versions if v in served), None)

    def serves_istio(self) -> bool:
        return any(g.endswith("istio.io") for g in self.groups)


def discover(api: RawApi) -> Discovery:
    body = api.get("/apis")
    groups = {g.get("name", ""): tuple(v.get("version", "") for v in g.get("versions") or [])
              for g in body.get("groups") or [] if isinstance(g, dict)}
    return Discovery(groups)


def list_path(resource: Resource, version: str, namespace: str | None) -> str:
    base = f"/api/{version}" if not resource.group else f"/apis/{resource.group}/{version}"
    if namespace and resource.namespaced:
        return f"{base}/namespaces/{namespace}/{resource.path_name}"
    return f"{base}/{resource.path_name}"


def list_collections(api: RawApi, discovery: Discovery, requests: Iterable[ListRequest],
                     sink: PageSink | None = None, pause: bool = True, keep: bool = True) -> list[ListResult]:
    """Raises ClusterUnreachable when the server answered none of them (it went away mid-run): that is
    one error for the whole run (exit 3), not a report of skipped checks. `sink` is told every page.
    `pause`: False when the caller's thread holds the collector paused (a LIST in a background thread
    must not hold it: if the run ends on an error first, the thread may outlive it). `keep`: False when
    only the sink needs the items (a process that sends them on): the results hold none."""
    todo = list(dict.fromkeys(requests))
    if not todo:
        return []
    with collector_paused() if pause else contextlib.nullcontext(), \
            ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(todo))) as pool:
        results = list(pool.map(lambda r: _list_one(api, discovery, r, sink, keep), todo))
    if all(r.unreachable for r in results):
        raise ClusterUnreachable(f"the API server stopped answering: {results[0].unreachable}")
    return results


@dataclass
class _Pauses:
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0
    was_enabled: bool = False


_PAUSES = _Pauses()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic collector is not run while pages are parsed. Every dict of a parsed page survives
    (it is the snapshot), so each collection the allocations trigger walks everything read so far: that
    more than doubled the time of reading 10,000 pods from a real API server (4.0 s against 1.8 s with
    the collector paused, json.loads 3.0 s against 0.8 s). What is read holds no cycles; once read it is
    frozen (never walked again) and the collector resumes. Counted: a LIST read in the background (a
    scan's pods) keeps it paused while the rounds read in the foreground begin and end."""
    with _PAUSES.lock:
        if _PAUSES.count == 0:
            _PAUSES.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSES.count += 1
    try:
        yield
    finally:
        with _PAUSES.lock:
            _PAUSES.count -= 1
            if _PAUSES.count == 0 and _PAUSES.was_enabled:
                gc.freeze()
                gc.enable()


def _not_served(request: ListRequest, resource: Resource, scope: str, message: str = "", version: str = "",
                ) -> ListResult:
    if resource.none_unless_served:
        return ListResult(request, CollectionStatus(resource.key, State.OK, "(the CRD is not installed: none exist)"),
                          version=version)
    return ListResult(request, CollectionStatus(resource.key, State.NOT_SERVED, scope, message), version=version)


def _list_one(api: RawApi, discovery: Discovery, request: ListRequest, sink: PageSink | None = None,
              keep: bool = True) -> ListResult:
    resource = BY_KEY[request.resource]
    scope = request.scope()
    version = discovery.version_for(resource)
    if version is None:
        return _not_served(request, resource, scope)
    path = list_path(resource, version, request.namespace)
    try:
        items = _paginate(api, path, request, resource.kind, sink, keep)
    except ApiStatusError as exc:
        if exc.status == 404:
            return _not_served(request, resource, scope, str(exc), version)
        state = {403: State.FORBIDDEN}.get(exc.status, State.ERROR)
        message = "" if exc.status == 403 else str(exc)
        return ListResult(request, CollectionStatus(resource.key, state, scope, message), version=version)
    except ClusterUnreachable as exc:
        return ListResult(request, CollectionStatus(resource.key, State.ERROR, scope, exc.message),
                          unreachable=exc.message, version=version)
    return ListResult(request, CollectionStatus(resource.key, State.OK, scope), items, version=version)


def _paginate(api: RawApi, path: str, request: ListRequest, kind: str, sink: PageSink | None = None,
              keep: bool = True) -> list[dict[str, Any]]:
    """Page after page; while one page is parsed the next is already asked for: the API server writes
    a List's metadata (and its continue token) before its items, so the token is read from the first
    bytes and the server's work overlaps ours (PERF-FLOOR.md: parsing is a third of a pod fetch)."""
    items: list[dict[str, Any]] = []
    token = ""
    restarted = False
    limit = min(PAGE_SIZE, request.max_items) if request.max_items else PAGE_SIZE
    with ThreadPoolExecutor(max_workers=1) as ahead:
        pending: tuple[str, Future[bytes]] | None = None
        while True:
            try:
                if pending is not None and pending[0] == token:
                    body = pending[1].result()
                else:
                    body = api.get_bytes(path, _page_query(request, limit, token), "application/json")
            except ApiStatusError as exc:
                if exc.status == 410 and token and not restarted:  # continue token expired: start over once
                    items, token, restarted, pending = [], "", True, None
                    if sink is not None:
                        sink(None)
                    continue
                raise
            pending = None
            early = _CONTINUE.search(body, 0, HEAD_BYTES)
            if early and not (request.max_items and len(items) + limit >= request.max_items):
                after = early.group(1).decode()
                pending = (after, ahead.submit(api.get_bytes, path, _page_query(request, limit, after),
                                               "application/json"))
            page = decode_json(without_managed_fields(body))
            parsed = [trim(kind, item) for item in page.get("items") or [] if isinstance(item, dict)]
            if keep:
                items += parsed  # page by page: what nothing reads never piles up
            if sink is not None:
                sink(parsed)
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token or (request.max_items and len(items) >= request.max_items):
                return items[:request.max_items] if request.max_items else items


_CONTINUE = re.compile(rb'"continue":\s*"([^"\\]+)"')
HEAD_BYTES = 4096  # kind, apiVersion and metadata come first in the API server's List encoding


def _page_query(request: ListRequest, limit: int, token: str) -> dict[str, str | int]:
    return {"limit": limit, "continue": token, "labelSelector": request.label_selector,
            "fieldSelector": request.field_selector}


def check_access(api: RawApi) -> dict[str, Any]:
    """One cheap request before the fan-out: turns an unreachable server or rejected credentials into
    one clear error instead of a dozen failed collections."""
    try:
        return api.get("/version")
    except ApiStatusError as exc:
        if exc.status == 403:  # /version is readable by anyone authenticated on real clusters
            return {}
        raise ClusterUnreachable(f"the API server {api.server} answered /version with {exc}") from exc
    except AuthenticationFailed:
        raise
