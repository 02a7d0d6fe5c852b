"""What a live run saw besides objects: proxy logs and, with --probe, answers from pods.

Kept apart from the Snapshot's objects because it is not Kubernetes state: it is read after the
objects (which pods to ask depends on them), and checks read it as plain data, never the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_meshdoctor.cluster.logs import PodLog
from kubectl_meshdoctor.cluster.portforward import PortAnswer

__all__ = ["HttpProbe", "LiveEvidence", "PodLog", "PortAnswer"]


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
    http_probes: tuple[HttpProbe, ...] = ()
    syncz: tuple[PortAnswer, ...] = ()  # one per istiod pod
    probed: bool = False              # --probe was given
    notes: tuple[str, ...] = ()
