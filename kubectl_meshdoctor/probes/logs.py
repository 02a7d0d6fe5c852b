"""Reading container logs (the pods/log subresource), bounded: a window, a byte cap, few pods.

Logs are evidence, not a requirement: a pod that is gone or has no istio-proxy container is passed
over; only a denial (403) makes the log-reading checks skipped, with the API's reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kubectl_meshdoctor.cluster.api import ApiStatusError, RawApi
from kubectl_meshdoctor.cluster.fetch import MAX_WORKERS
from kubectl_meshdoctor.cluster.resources import CollectionStatus, State
from kubectl_meshdoctor.errors import ClusterUnreachable
from kubectl_meshdoctor.snapshot.evidence import PodLog

UNREACHABLE = "no answer: "


@dataclass(frozen=True)
class LogRequest:
    namespace: str
    pod: str
    role: str
    container: str = "istio-proxy"


def read_logs(api: RawApi, requests: Iterable[LogRequest], since_seconds: int,
              limit_bytes: int) -> tuple[list[PodLog], CollectionStatus]:
    todo = list(dict.fromkeys(requests))
    if not todo:
        return [], CollectionStatus("podlogs", State.OK, "(no proxies to read)")
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(todo))) as pool:
        outcomes = list(pool.map(lambda r: _read_one(api, r, since_seconds, limit_bytes), todo))
    logs = [log for log, _ in outcomes if log is not None]
    failures = [status for _, status in outcomes if status is not None]
    if len(failures) == len(todo) and all(f.resource == "podlogs" and f.message.startswith(UNREACHABLE)
                                          for f in failures):
        raise ClusterUnreachable(f"the API server stopped answering: {failures[0].message}")
    denied = next((f for f in failures if f.state == State.FORBIDDEN), None)
    if denied is not None:
        return logs, denied
    if failures and not logs:
        return logs, failures[0]
    return logs, CollectionStatus("podlogs", State.OK, f"of {len(logs)} pods")


def _read_one(api: RawApi, request: LogRequest, since_seconds: int,
              limit_bytes: int) -> tuple[PodLog | None, CollectionStatus | None]:
    path = f"/api/v1/namespaces/{request.namespace}/pods/{request.pod}/log"
    scope = f"in {request.namespace}"
    try:
        text = api.get_text(path, {"container": request.container, "sinceSeconds": since_seconds,
                                   "limitBytes": limit_bytes})
    except ApiStatusError as exc:
        if exc.status == 403:
            return None, CollectionStatus("podlogs", State.FORBIDDEN, scope, exc.message)
        if exc.status in (400, 404):  # pod gone, or no such container: nothing to read, not a failure
            return None, None
        return None, CollectionStatus("podlogs", State.ERROR, scope, str(exc))
    except ClusterUnreachable as exc:
        return None, CollectionStatus("podlogs", State.ERROR, scope, UNREACHABLE + exc.message)
    truncated = len(text.encode("utf-8", "replace")) >= limit_bytes
    return PodLog(request.namespace, request.pod, request.role, text, truncated), None
