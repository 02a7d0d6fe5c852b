"""Envoy access-log lines as Istio writes them, across versions, and Envoy's restart epochs.

Istio's default text format changed field order over time (ISTIO-SEMANTICS.md §E):
  1.0       [time] "METHOD PATH PROTO" CODE FLAGS BYTES_IN BYTES_OUT DURATION ...
  1.1-1.4   [time] "METHOD PATH PROTO" CODE FLAGS "MIXER_STATUS" BYTES_IN ...
  1.5-1.8   [time] "METHOD PATH PROTO" CODE FLAGS "MIXER_STATUS" "UPSTREAM_FAILURE" BYTES_IN ...
  1.9+      [time] "METHOD PATH PROTO" CODE FLAGS DETAILS TERMINATION "UPSTREAM_FAILURE" BYTES_IN ...
and all continue ... UPSTREAM_TIME "XFF" "UA" "REQUEST_ID" "AUTHORITY" "UPSTREAM_HOST" CLUSTER
UPSTREAM_LOCAL DOWNSTREAM_LOCAL DOWNSTREAM_REMOTE SNI [ROUTE]. The parser finds the numeric block
(bytes, bytes, duration) instead of trusting a position, so every variant reads the same way.
JSON access logs (accessLogEncoding: JSON) use Istio's snake_case keys. Lines that are neither
(Envoy's own log, the agent's) are counted, never fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

_TOKENS = re.compile(r'\[([^\]]*)\]|"((?:[^"\\]|\\.)*)"|(\S+)')
_EPOCH = re.compile(r"(?:creating new Envoy epoch|Epoch) (\d+)|\[Envoy \(Epoch (\d+)\)\]")


@dataclass(frozen=True)
class AccessEntry:
    time: str
    method: str
    path: str
    protocol: str
    code: int
    flags: tuple[str, ...]   # "-" means none
    details: str             # response code details (1.9+), else ""
    failure: str             # upstream transport failure reason, else ""
    authority: str
    upstream_host: str
    cluster: str             # outbound|9080|v1|reviews.bookinfo.svc.cluster.local, inbound|9080||, ...
    downstream_local: str    # where the connection arrived: ClusterIP:port on a client, pod IP:port on a server
    line: str

    @cached_property
    def cluster_parts(self) -> tuple[str, str, str, str]:
        """(direction, port, subset, host) of an Istio cluster name; empty strings when not one."""
        parts = self.cluster.split("|")
        if len(parts) < 3:
            return ("", "", "", "")
        padded = [*parts, "", "", "", ""]
        return (padded[0], padded[1], padded[2], padded[3])


@dataclass(frozen=True)
class ParsedLog:
    entries: tuple[AccessEntry, ...]
    unparsed: int        # lines that looked like access-log lines but did not parse
    other: int           # Envoy / agent lines
    max_epoch: int       # highest Envoy hot-restart epoch seen (0: never restarted in the window)
    epoch_line: str = ""


def parse_log(text: str) -> ParsedLog:
    entries: list[AccessEntry] = []
    unparsed = other = epoch = 0
    epoch_line = ""
    for raw in text.splitlines():
        line = _strip_timestamp_prefix(raw.strip())
        if not line:
            continue
        entry = parse_line(line)
        if entry is not None:
            entries.append(entry)
            continue
        found = _EPOCH.search(line)
        if found:
            n = int(found.group(1) or found.group(2))
            if n > epoch:
                epoch, epoch_line = n, line
        if line.startswith("{") or (line.startswith("[") and '"' in line and " HTTP/" in line):
            unparsed += 1
        else:
            other += 1
    return ParsedLog(tuple(entries), unparsed, other, epoch, epoch_line)


_KUBE_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z?\s+(?=[\[{])")


def _strip_timestamp_prefix(line: str) -> str:
    """`kubectl logs --timestamps` / the API's timestamps=true put an RFC 3339 time before the line."""
    return _KUBE_TIMESTAMP.sub("", line, count=1)


def parse_line(line: str) -> AccessEntry | None:
    if line.startswith("{"):
        return _parse_json(line)
    if not line.startswith("["):
        return None
    return _parse_text(line)


def _parse_json(line: str) -> AccessEntry | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "response_code" not in doc:
        return None
    code = _int(doc.get("response_code"))
    if code is None:
        return None
    text = {k: "" if v is None else str(v) for k, v in doc.items()}
    return AccessEntry(text.get("start_time", ""), text.get("method", ""), text.get("path", ""),
                       text.get("protocol", ""), code, _flags(text.get("response_flags", "-")),
                       _dash(text.get("response_code_details", "")),
                       _dash(text.get("upstream_transport_failure_reason", "")),
                       _dash(text.get("authority", "")), _dash(text.get("upstream_host", "")),
                       _dash(text.get("upstream_cluster", "")), _dash(text.get("downstream_local_address", "")), line)


def _parse_text(line: str) -> AccessEntry | None:
    tokens = [(m.group(1), "time") if m.group(1) is not None else
              (m.group(2), "quoted") if m.group(2) is not None else (m.group(3), "bare")
              for m in _TOKENS.finditer(line)]
    if len(tokens) < 8 or tokens[0][1] != "time" or tokens[1][1] != "quoted":
        return None
    request = tokens[1][0].split(" ")
    method, path, protocol = [*request, "", "", ""][:3] if len(request) >= 3 else ("", "", request[-1])
    code = _int(tokens[2][0])
    if code is None or tokens[3][1] != "bare":
        return None
    flags = _flags(tokens[3][0])
    i = 4
    middle: list[tuple[str, str]] = []
    while i + 2 < len(tokens) and not all(tokens[j][1] == "bare" and _int(tokens[j][0]) is not None
                                          for j in (i, i + 1, i + 2)):
        middle.append(tokens[i])
        i += 1
    if i + 2 >= len(tokens):
        return None
    bare = [t for t, kind in middle if kind == "bare"]
    quoted = [t for t, kind in middle if kind == "quoted"]
    details = bare[0] if bare else ""
    failure = quoted[-1] if quoted and (bare or len(quoted) >= 2) else ""
    rest = tokens[i + 4:]  # after bytes in, bytes out, duration, upstream service time
    quoted_rest = [t for t, kind in rest if kind == "quoted"]
    authority = quoted_rest[3] if len(quoted_rest) > 3 else ""
    upstream_host = quoted_rest[4] if len(quoted_rest) > 4 else ""
    after = _after_nth_quoted(rest, 5)
    cluster = after[0] if after else ""
    downstream_local = after[2] if len(after) > 2 else ""
    return AccessEntry(tokens[0][0], method, path, protocol, code, flags, _dash(details), _dash(failure),
                       _dash(authority), _dash(upstream_host), _dash(cluster), _dash(downstream_local), line)


def _after_nth_quoted(tokens: list[tuple[str, str]], n: int) -> list[str]:
    seen = 0
    for index, (_, kind) in enumerate(tokens):
        if kind == "quoted":
            seen += 1
            if seen == n:
                return [t for t, _ in tokens[index + 1:]]
    return []


def _int(text: object) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None


def _flags(text: str) -> tuple[str, ...]:
    return tuple(f for f in text.split(",") if f and f != "-")


def _dash(text: str) -> str:
    return "" if text == "-" else text


def shorten(line: str, limit: int = 240) -> str:
    return line if len(line) <= limit else line[:limit - 1] + "…"
