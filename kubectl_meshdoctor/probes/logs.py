"""Reading container logs (the pods/log subresource), bounded: a window, a byte cap, few pods.

The API server proxies each log read to the pod's kubelet, so one sick node must cost one pod's
evidence, not the run: each pod has its own deadline, a pod whose log cannot be read is named (the
checks that read logs are then `partial`), and only when the API server itself stops answering is the
run lost (exit 3). The kubelet applies `sinceSeconds`, then `tailLines`, then `limitBytes` (which
keeps the *first* bytes of what is left), so the newest lines are kept by asking for a tail that fits
the byte cap: a first guess, and once more with the line length measured when the cap still cut it.
A pod that is gone or has no istio-proxy container is passed over: nothing to read, not a failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kubectl_meshdoctor.cluster.api import ApiStatusError, RawApi, Timeouts
from kubectl_meshdoctor.cluster.fetch import MAX_WORKERS
from kubectl_meshdoctor.cluster.resources import CollectionStatus, State
from kubectl_meshdoctor.errors import ClusterUnreachable
from kubectl_meshdoctor.snapshot.evidence import PodLog

UNREACHABLE = "no answer: "
LOG_TIMEOUTS = Timeouts(connect=5.0, read=10.0, total=15.0)  # per pod (or --request-timeout, if shorter)
FIRST_GUESS_LINE_BYTES = 400  # Istio's text access-log lines run 250-450 bytes


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
    per_pod = RawApi(api.api_client, LOG_TIMEOUTS.at_most(api.timeouts), api.server)
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(todo))) as pool:
        outcomes = list(pool.map(lambda r: _read_one(per_pod, r, since_seconds, limit_bytes), todo))
    api.requests += per_pod.requests
    api.bytes_received += per_pod.bytes_received
    api.last_answer = max(api.last_answer, per_pod.last_answer)
    logs = [log for log, _ in outcomes if log is not None]
    failures = [status for _, status in outcomes if status is not None]
    if failures and not logs and all(f.message.startswith(UNREACHABLE) for f in failures):
        _api_server_still_answers(api, failures[0])
    denied = next((f for f in failures if f.state == State.FORBIDDEN), None)
    if denied is not None:
        return logs, denied
    if not failures:
        return logs, CollectionStatus("podlogs", State.OK, f"of {len(logs)} pods")
    unread = "; ".join(f"{f.scope}: {f.message}" for f in failures)
    if not logs:
        return logs, CollectionStatus("podlogs", State.ERROR, f"of {len(failures)} pods",
                                      f"no proxy log could be read: {unread}")
    return logs, CollectionStatus("podlogs", State.PARTIAL, f"of {len(logs) + len(failures)} pods",
                                  f"not read: {unread}")


def _api_server_still_answers(api: RawApi, failure: CollectionStatus) -> None:
    """Every log read went unanswered: the kubelets, or the API server? Ask the API server itself."""
    try:
        api.get("/version")
    except (ClusterUnreachable, ApiStatusError) as exc:
        raise ClusterUnreachable(f"the API server stopped answering: {failure.message}") from exc


def _read_one(api: RawApi, request: LogRequest, since_seconds: int,
              limit_bytes: int) -> tuple[PodLog | None, CollectionStatus | None]:
    path = f"/api/v1/namespaces/{request.namespace}/pods/{request.pod}/log"
    scope = f"{request.namespace}/{request.pod}"
    tail = max(50, limit_bytes // FIRST_GUESS_LINE_BYTES)
    try:
        for _attempt in range(2):
            text = api.get_text(path, {"container": request.container, "sinceSeconds": since_seconds,
                                       "tailLines": tail, "limitBytes": limit_bytes})
            size = len(text.encode("utf-8", "replace"))
            lines = text.count("\n") or 1
            if size < limit_bytes or tail <= 1:
                break
            tail = max(1, int(0.9 * limit_bytes * lines / size))  # the cap cut the tail's newest end
    except ApiStatusError as exc:
        if exc.status == 403:
            return None, CollectionStatus("podlogs", State.FORBIDDEN, f"in {request.namespace}", exc.message)
        if exc.status in (400, 404):  # pod gone, or no such container: nothing to read, not a failure
            return None, None
        return None, CollectionStatus("podlogs", State.ERROR, scope, str(exc))
    except ClusterUnreachable as exc:
        return None, CollectionStatus("podlogs", State.ERROR, scope, UNREACHABLE + exc.message)
    return PodLog(request.namespace, request.pod, request.role, text, size >= limit_bytes, tail, size), None
