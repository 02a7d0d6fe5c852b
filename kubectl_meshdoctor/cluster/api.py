"""One raw GET against the API server: JSON in, dict out, failures classified.

The client's typed models cost 10-18x the time of `json.loads` (ECOSYSTEM.md §0.4), so every
request asks for the undecoded body. Failures become exceptions that say what the user can do.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from kubectl_meshdoctor.errors import AuthenticationFailed, ClusterUnreachable


@dataclass
class ApiStatusError(Exception):
    """A non-2xx answer for one request (403, 404, 500...) that the run survives."""

    status: int
    message: str

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"


THROTTLE_RETRIES = 3    # 429: Retry-After honoured, else exponential backoff from BACKOFF
SERVER_ERROR_RETRIES = 1  # 500/502/503/504: one more try, then the collection is skipped
BACKOFF = 0.5
DEFAULT_TOTAL = 60.0      # whole-request deadline when --request-timeout is not given
CHUNK = 1 << 16


@dataclass(frozen=True)
class Timeouts:
    """kubectl's --request-timeout as the client needs it: a (connect, read) pair per attempt, and a
    total deadline for the whole request (retries and a slow body included). None: no limit."""

    connect: float | None = 5.0
    read: float | None = 30.0
    total: float | None = DEFAULT_TOTAL

    @classmethod
    def of(cls, seconds: float) -> Timeouts:
        """`--request-timeout 2s`: every step and the whole request within 2 s; 0 means no limit."""
        return cls(None, None, None) if seconds == 0 else cls(seconds, seconds, seconds)

    def at_most(self, other: Timeouts) -> Timeouts:
        """Each limit the smaller of the two (None: no limit)."""
        def least(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else min(a, b)
        return Timeouts(least(self.connect, other.connect), least(self.read, other.read),
                        least(self.total, other.total))

    def pair(self) -> tuple[float, float] | None:
        """The client applies a single-number timeout only when it is an `int` (kubernetes<=35 rest.py):
        a float such as 2.0 is silently ignored and the request can hang for ever. A (connect, read)
        pair is honoured in every version, so that is what we always pass."""
        if self.connect is None and self.read is None:
            return None
        return (self.connect or self.read or 0.0, self.read or self.connect or 0.0)


class RawApi:
    """Each request has a total deadline (kubectl's --request-timeout, else DEFAULT_TOTAL) that bounds
    connect, retries and reading the body: a server that drips bytes cannot stall a run."""

    def __init__(self, api_client: Any, timeouts: Timeouts, server: str = "") -> None:
        self._client = api_client
        self.timeouts = timeouts
        self._timeout = timeouts.pair()
        self._total = timeouts.total
        self.server = server or api_client.configuration.host
        self.requests = 0
        self.bytes_received = 0
        self.last_answer = 0.0  # perf_counter() when the last answer was read whole (bench/: what follows is analysis)

    def get(self, path: str, query: dict[str, str | int] | None = None) -> dict[str, Any]:
        return decode_json(self.get_bytes(path, query, "application/json"))

    def get_text(self, path: str, query: dict[str, str | int] | None = None) -> str:
        """A text subresource (pods/log), decoded leniently: a log may hold any bytes."""
        return self.get_bytes(path, query, "*/*").decode("utf-8", "replace")

    def get_bytes(self, path: str, query: dict[str, str | int] | None, accept: str) -> bytes:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError, SSLError

        params = [(k, v) for k, v in (query or {}).items() if v not in (None, "")]
        deadline = time.monotonic() + self._total if self._total else None
        throttled = failed = 0
        while True:
            self.requests += 1
            try:
                response = self._client.call_api(
                    path, "GET", query_params=params, header_params={"Accept": accept},
                    auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
                    _request_timeout=self._attempt_timeout(deadline))
                body = self._read_body(response, deadline)
                break
            except ApiException as exc:
                self.last_answer = max(self.last_answer, time.perf_counter())  # an answer too (403, 404...)
                if exc.status == 0:  # the client turns urllib3's SSLError into ApiException(0, "SSLError\n...")
                    raise _transport_error(exc, self.server) from exc
                wait = _retry_wait(exc, throttled, failed)
                if wait is not None and (deadline is None or time.monotonic() + wait < deadline):
                    throttled, failed = (throttled + 1, failed) if exc.status == 429 else (throttled, failed + 1)
                    time.sleep(wait)
                    continue
                raise _status_error(exc) from exc
            except SSLError as exc:
                raise ClusterUnreachable(f"TLS problem talking to {self.server}: {_root_cause(exc)}") from exc
            except HTTPError as exc:
                raise ClusterUnreachable(f"cannot reach the API server {self.server}: {_root_cause(exc)}") from exc
        self.bytes_received += len(body)
        self.last_answer = max(self.last_answer, time.perf_counter())
        return body

    def use_own_connections(self) -> None:
        """In a forked process (cluster/forked.py): connections of its own. The pooled ones are the
        parent's sockets; a request on one would interleave with the parent's on the same TLS stream."""
        from kubernetes.client import rest

        self._client.rest_client = rest.RESTClientObject(self._client.configuration)

    @property
    def api_client(self) -> Any:
        """For the probes, which need the client's websocket support (port-forward)."""
        return self._client

    def _attempt_timeout(self, deadline: float | None) -> tuple[float, float] | None:
        if deadline is None:
            return self._timeout
        left = max(0.05, deadline - time.monotonic())
        connect, read = self._timeout or (left, left)
        return (min(connect, left), min(read, left))

    def _read_body(self, response: Any, deadline: float | None) -> bytes:
        """read1 returns whatever has arrived (read(n) would wait for all n bytes), so the deadline is
        checked as the bytes come; an answer abandoned half-way is closed, not pooled."""
        read = getattr(response, "read1", None) or response.read
        chunks = []
        complete = False
        try:
            while chunk := read(CHUNK):
                chunks.append(chunk)
                if deadline is not None and time.monotonic() > deadline:
                    raise ClusterUnreachable(f"the API server {self.server} sent its answer too slowly: timed out "
                                             f"after {self._total:g}s")
            complete = True
        finally:
            if not complete:
                response.close()
            response.release_conn()
        return b"".join(chunks)


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = json.loads(body)
        return doc
    except ValueError as exc:
        raise ApiStatusError(200, "invalid response from the API server (not JSON)") from exc


def _retry_wait(exc: Any, throttled: int, failed: int) -> float | None:
    """Seconds to wait before trying again, or None when the status is final."""
    if exc.status == 429 and throttled < THROTTLE_RETRIES:
        header = (exc.headers or {}).get("Retry-After", "")
        return float(header) if str(header).isdigit() else BACKOFF * 2 ** throttled
    if exc.status in (500, 502, 503, 504) and failed < SERVER_ERROR_RETRIES:
        return BACKOFF
    return None


def _status_error(exc: Any) -> Exception:
    message = ""
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(exc.body or b"{}").get("message", "")
    if exc.status == 401:
        return AuthenticationFailed("unauthorized: the API server rejected the credentials "
                                    "(expired or wrong token/certificate); log in again")
    return ApiStatusError(exc.status, message or str(exc.reason or ""))


def _transport_error(exc: Any, server: str) -> ClusterUnreachable:
    text = str(exc.reason or "")
    first, _, rest = text.partition("\n")
    if first.startswith("SSLError") or "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in first:
        return ClusterUnreachable(f"TLS problem talking to {server}: {_tls_reason(rest or text)}")
    return ClusterUnreachable(f"cannot reach the API server {server}: {(rest or text).strip()[:200]}")


def _tls_reason(text: str) -> str:
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed (wrong --certificate-authority or server certificate)"
    return text.strip().splitlines()[0][:200] if text.strip() else "handshake failed"


def _root_cause(exc: BaseException) -> str:
    """urllib3 wraps the real reason (refused, timed out, certificate) several levels deep."""
    reason: Any = exc
    while getattr(reason, "reason", None) is not None and reason is not reason.reason:
        reason = reason.reason
    text = str(reason)
    if "timed out" in text.lower():
        return "timed out"
    if "refused" in text.lower():
        return "connection refused"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return _tls_reason(text)
    return text.split(": ", 1)[-1][:200]
