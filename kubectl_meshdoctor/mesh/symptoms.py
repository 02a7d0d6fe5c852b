"""What the proxies' access logs say happened to requests for the host: failures grouped by where
they were seen (inbound at the host's sidecars, outbound at clients, at gateways), response code,
Envoy response flags and details. Successes are only counted: at 3 a.m. the failures are the story.

A line is about the host when its Istio cluster names it (`outbound|9080|v1|reviews...`), when it is
inbound at the host's own sidecar, when its authority is one of the host's names, or when the
connection arrived on one of the host's addresses (requests rejected before routing, such as
HTTP/1.0 426s and TLS handshakes that found no filter chain, carry nothing else). ztunnel's lines
(ambient: mesh/ztunnellog.py) are connections, about the host when they name its Service or tunnel to
one of its pods; a failed one is a symptom with its error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.mesh import accesslog
from kubectl_meshdoctor.mesh.ztunnellog import parse_ztunnel_line
from kubectl_meshdoctor.snapshot.evidence import PodLog

DIRECTION = {"server": "inbound", "client": "outbound", "gateway": "gateway"}
ZTUNNEL = "ztunnel"  # the role of a ztunnel pod's log; its symptoms' direction is "ztunnel inbound/outbound"


@dataclass(frozen=True)
class Symptom:
    direction: str               # inbound | outbound | gateway
    code: int
    flags: tuple[str, ...]
    details: str
    port: int | None             # the Service port
    subset: str
    count: int
    first: str
    last: str
    sample: str
    pods: tuple[str, ...]        # ns/name of the proxies that logged it
    failure: str = ""            # upstream transport failure reason, when logged

    by_proxy: bool = False       # answered by the proxy itself, no upstream (the <= 1.8 HTTP/1.0 426 form)

    @property
    def http10_rejected(self) -> bool:
        """Envoy's codec refused an HTTP/1.0 request: 426 with DPE / low_version, or, before Istio 1.9
        (no response details, no DPE flag from the codec), a 426 to an HTTP/1.0 request that never
        reached an upstream. An application may answer 426 itself (e.g. to ask for a WebSocket
        upgrade): that one has an upstream, so it is not this."""
        return self.code == 426 and ("DPE" in self.flags or self.details == "low_version" or self.by_proxy)

    @property
    def at_ztunnel(self) -> bool:
        """A connection ztunnel could not make or keep (ztunnel has no HTTP status or flags)."""
        return self.direction.startswith(ZTUNNEL)

    def label(self) -> str:
        if self.at_ztunnel:
            return f"connection failed ({self.details})"
        flags = ",".join(self.flags) or "-"
        return f"{self.code} {flags}" + (f" {self.details}" if self.details else "")



@dataclass(frozen=True)
class LogSummary:
    window: str
    pods: int                    # proxies whose logs were read
    lines: int                   # access-log lines parsed
    for_host: int
    by_class: dict[str, int] = field(default_factory=dict)  # "2xx": n, ...
    unparsed: int = 0
    symptoms: tuple[Symptom, ...] = ()
    epochs: dict[str, tuple[int, str]] = field(default_factory=dict)  # ns/pod -> Envoy hot-restart epoch, line


@dataclass(frozen=True)
class HostAddresses:
    host: str
    names: frozenset[str]         # authorities that name it
    virtual: dict[str, int]       # ClusterIP:port -> Service port
    local: dict[str, int]         # pod IP:port -> Service port


def is_symptom(entry: accesslog.AccessEntry) -> bool:
    return entry.code >= 400 or (entry.code == 0 and bool(entry.flags)) or "filter_chain_not_found" in entry.details


def _local_port(address: str, where: HostAddresses) -> int | None:
    return where.local.get(address) or where.local.get("*:" + address.rsplit(":", 1)[-1])


def _about_host(entry: accesslog.AccessEntry, role: str, where: HostAddresses) -> bool:
    direction, _, _, cluster_host = entry.cluster_parts
    if role == "server":  # the host's own sidecar also logs the host's outbound calls: not ours
        return direction == "inbound" or (not direction and _local_port(entry.downstream_local, where) is not None)
    authority = entry.authority.rsplit(":", 1)[0] if entry.authority.count(":") == 1 else entry.authority
    return (cluster_host == where.host or authority in where.names or entry.downstream_local in where.virtual
            or (role == "gateway" and _local_port(entry.downstream_local, where) is not None))


def _port(entry: accesslog.AccessEntry, where: HostAddresses) -> int | None:
    known = where.virtual.get(entry.downstream_local) or _local_port(entry.downstream_local, where)
    if known:
        return known
    port = entry.cluster_parts[1]
    return int(port) if port.isdigit() else None


def _old_http10_rejection(entry: accesslog.AccessEntry) -> bool:
    """Envoy before Istio 1.9 logged its own HTTP/1.0 426 as `"GET / HTTP/1.0" 426 - ...` with no
    upstream host: no flag, no details (ISTIO-SEMANTICS.md §E)."""
    return entry.code == 426 and entry.protocol == "HTTP/1.0" and entry.flags in ((), ("-",)) \
        and not entry.details and entry.upstream_host in ("", "-")


def summarise(logs: Iterable[PodLog], where: HostAddresses, window: str) -> LogSummary:
    groups: dict[tuple[Any, ...], list[tuple[Any, str]]] = {}  # AccessEntry or ZtunnelEntry, and its proxy
    lines = for_host = unparsed = pods = 0
    by_class: dict[str, int] = {}
    epochs: dict[str, tuple[int, str]] = {}
    for log in logs:
        pods += 1
        if log.role == ZTUNNEL:
            parsed_lines, about_host = _ztunnel_lines(log, where, groups, by_class)
            lines, for_host = lines + parsed_lines, for_host + about_host
            continue
        parsed = accesslog.parse_log(log.text)
        if parsed.max_epoch and log.role != "client":
            epochs[f"{log.namespace}/{log.pod}"] = (parsed.max_epoch, parsed.epoch_line)
        lines += len(parsed.entries)
        unparsed += parsed.unparsed
        for entry in parsed.entries:
            if not _about_host(entry, log.role, where):
                continue
            for_host += 1
            klass = f"{entry.code // 100}xx" if entry.code else "no response"
            by_class[klass] = by_class.get(klass, 0) + 1
            if not is_symptom(entry):
                continue
            key = (DIRECTION[log.role], entry.code, entry.flags, entry.details, _port(entry, where),
                   entry.cluster_parts[2], _old_http10_rejection(entry))
            groups.setdefault(key, []).append((entry, f"{log.namespace}/{log.pod}"))
    symptoms = []
    for (direction, code, flags, details, port, subset, by_proxy), seen in groups.items():
        entries = [e for e, _ in seen]
        times = sorted(e.time for e in entries if e.time)
        symptoms.append(Symptom(direction, code, flags, details, port, subset, len(entries),
                                times[0] if times else "", times[-1] if times else "",
                                accesslog.shorten(entries[-1].line), tuple(dict.fromkeys(p for _, p in seen)),
                                next((e.failure for e in entries if e.failure), ""), by_proxy))
    symptoms.sort(key=lambda s: (-s.count, s.direction, s.code))
    return LogSummary(window, pods, lines, for_host, dict(sorted(by_class.items())), unparsed, tuple(symptoms),
                      epochs)


def _ztunnel_lines(log: PodLog, where: HostAddresses, groups: dict[tuple[Any, ...], list[tuple[Any, str]]],
                   by_class: dict[str, int]) -> tuple[int, int]:
    """A ztunnel's connections to the host (its Service, or one of its pods behind the tunnel), the
    failed ones grouped by direction and error. Returns (lines parsed, lines for the host)."""
    entries = [e for e in map(parse_ztunnel_line, log.text.splitlines()) if e is not None]
    for_host = 0
    for entry in entries:
        local = (where.local.get(entry.hbone_addr) or _local_port(entry.hbone_addr, where)) if entry.hbone_addr \
            else None
        if entry.service != where.host and local is None and entry.dst_addr not in where.virtual:
            continue
        for_host += 1
        klass = "connections failed" if entry.error else "connections"
        by_class[klass] = by_class.get(klass, 0) + 1
        if entry.error:
            port = local or where.virtual.get(entry.dst_addr)
            key = (f"{ZTUNNEL} {entry.direction}".strip(), 0, (), entry.error, port, "", False)
            groups.setdefault(key, []).append((entry, f"{log.namespace}/{log.pod}"))
    return len(entries), for_host
