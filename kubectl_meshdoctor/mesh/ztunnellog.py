"""ztunnel's access log: one line per connection, as ztunnel writes it when the connection ends.

The shape (istio.io, ambient/usage/debugging; ztunnel 1.22+): a time, a level, the target `access`,
`connection complete`, then key=value fields: src.addr, src.workload, src.namespace, src.identity,
dst.addr (the pod's or waypoint's :15008 for HBONE), dst.hbone_addr (the pod and port the tunnel
carries to), dst.service, dst.workload, dst.namespace, dst.identity, direction (inbound/outbound),
bytes_sent, bytes_recv, duration, and error="..." when the connection failed (the level is then
warn or error). ztunnel moves bytes, not requests: a failure is a connection that could not be made or
was cut, never an HTTP status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^(\S+)\s+(\w+)\s+access\s+connection complete\s+(.*)$")
_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')


@dataclass(frozen=True)
class ZtunnelEntry:
    time: str
    level: str
    direction: str     # inbound | outbound
    service: str       # dst.service: the Service's FQDN, when the connection was to one
    workload: str      # dst.workload
    namespace: str     # dst.namespace
    source: str        # src.namespace/src.workload
    hbone_addr: str    # pod IP:port the tunnel carried to ('' for plaintext)
    dst_addr: str
    error: str         # why it failed; '' for a connection that completed
    line: str

    @property
    def failure(self) -> str:
        """As an Envoy line's upstream failure: what the Symptoms section quotes."""
        return self.error


def parse_ztunnel_line(line: str) -> ZtunnelEntry | None:
    found = _LINE.match(line)
    if found is None:
        return None
    fields = {k: v[1:-1] if v.startswith('"') else v for k, v in _FIELD.findall(found.group(3))}
    source = "/".join(x for x in (fields.get("src.namespace", ""), fields.get("src.workload", "")) if x)
    return ZtunnelEntry(found.group(1), found.group(2), fields.get("direction", ""), fields.get("dst.service", ""),
                        fields.get("dst.workload", ""), fields.get("dst.namespace", ""), source,
                        fields.get("dst.hbone_addr", ""), fields.get("dst.addr", ""), fields.get("error", ""), line)
