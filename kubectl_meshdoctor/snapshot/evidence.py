"""What a live run saw besides objects: proxy logs and, with --probe, answers from pods.

Kept apart from the Snapshot's objects because it is not Kubernetes state: it is read after the
objects (which pods to ask depends on them), and checks read it as plain data, never the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PodLog:
    namespace: str
    pod: str
    role: str            # server (the host's pods), gateway, client
    text: str
    truncated: bool = False  # the byte cap cut it (even the shortened tail did not fit)
    tail_lines: int = 0      # the newest lines asked for (after sinceSeconds)
    size: int = 0            # bytes read


@dataclass(frozen=True)
class PortAnswer:
    """One exchange through a port-forward: what came back, or why nothing did."""

    namespace: str
    pod: str
    port: int
    data: bytes = b""
    error: str = ""      # refused, timed out after 3s, forbidden ..., closed without answering
    seconds: float = 0.0
    truncated: bool = False  # the byte cap cut it
    via: str = "port-forward"  # or "exec": then data is the command's output, not an HTTP response

    def body(self) -> tuple[bytes, str]:
        """(the response body, "") or (b"", why there is none): an exec's output is the body itself; an
        HTTP answer counts only with status 200 (1.11+ istiod serves debug endpoints only on localhost
        or with a token, hence 401/403 through a port-forward)."""
        if self.error:
            return b"", self.error
        if self.via == "exec":
            return self.data, ""
        head, _, body = self.data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        if " 200" not in status:
            return b"", f"answered {status!r}" + (" (1.11+ serves debug endpoints only on localhost or with a token)"
                                                  if " 401" in status or " 403" in status else "")
        return body, ""


@dataclass(frozen=True)
class HttpProbe:
    service: str         # ns/name
    service_port: int
    answer: PortAnswer

    @property
    def status_line(self) -> str:
        return self.answer.data.split(b"\r\n", 1)[0].decode("latin-1", "replace") if self.answer.data else ""


@dataclass(frozen=True)
class LiveEvidence:
    logs: tuple[PodLog, ...] = ()
    logs_read: bool = False           # False: --no-logs, offline, or nothing to read
    since: str = ""                   # the window read, e.g. "15m"
    since_seconds: int = 0
    http_probes: tuple[HttpProbe, ...] = ()
    syncz: tuple[PortAnswer, ...] = ()  # one per istiod pod
    probed: bool = False              # --probe was given
    notes: tuple[str, ...] = ()
    proxy_configs: tuple[Any, ...] = ()  # mesh/configdump.ProxyConfig, from --config-dump
