"""NGINX configurations that proxy to a host, and the HTTP version they speak to it.

NGINX talks HTTP/1.0 to upstreams unless `proxy_http_version 1.1` is in effect for the location
(ISTIO-SEMANTICS.md §E), and Envoy answers HTTP/1.0 with 426. The directive is inherited
http → server → location (→ nested location, `if`), and a lower level replaces it. Configs arrive
as ConfigMap keys; one key may `include` another key of the same ConfigMap (nginx.conf including
conf.d/*.conf), which is followed so that an `http`-level setting reaches the included servers.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kubectl_meshdoctor.mesh import workloads
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

NGINX_DEFAULT_UPSTREAM_VERSION = "1.0"
_TOKEN = re.compile(r"""\s*(?:(#[^\n]*)|("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|([{};])|([^\s{};"'#][^\s{};]*))""")


@dataclass
class Directive:
    name: str
    args: list[str]
    line: int
    block: list[Directive] | None = None


@dataclass(frozen=True)
class ProxyPass:
    """One `proxy_pass` and the upstream HTTP version NGINX uses for it."""

    key: str              # the ConfigMap key (file) it is in
    line: int
    target: str           # the URL as written
    upstream_hosts: tuple[str, ...]  # host[:port] it sends to, through `upstream` blocks
    http_version: str     # in effect for the location; "1.0" when never set
    set_at: str           # where the version comes from: "location line 12", "http line 3", "default"
    location: str = ""


@dataclass
class _Context:
    version: str = NGINX_DEFAULT_UPSTREAM_VERSION
    set_at: str = "default"
    location: str = ""
    upstreams: dict[str, list[str]] = field(default_factory=dict)


def parse(text: str) -> list[Directive]:
    """Directives with their line numbers. Unbalanced braces end the block early rather than raising:
    a half-written config still shows what it says."""
    root: list[Directive] = []
    stack = [root]
    words: list[str] = []
    word_line = 1
    line = 1
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            break
        line += text.count("\n", pos, match.start(match.lastindex or 0))
        comment, quoted, punct, bare = match.groups()
        token_line = line
        line += text.count("\n", match.start(match.lastindex or 0), match.end())
        pos = match.end()
        if comment is not None:
            continue
        if quoted is not None or bare is not None:
            if not words:
                word_line = token_line
            words.append(quoted[1:-1] if quoted is not None else bare)
            continue
        if punct == ";" and words:
            stack[-1].append(Directive(words[0], words[1:], word_line))
        elif punct == "{":
            block: list[Directive] = []
            stack[-1].append(Directive(words[0] if words else "", words[1:], word_line if words else token_line,
                                       block))
            stack.append(block)
        elif punct == "}" and len(stack) > 1:
            stack.pop()
        words = []
    return root


def looks_like_nginx(text: str) -> bool:
    return "proxy_pass" in text


def proxy_passes(files: dict[str, str]) -> list[ProxyPass]:
    """Every proxy_pass of the ConfigMap's files. Files another file includes are read where they are
    included (with the includer's settings) and not again on their own."""
    parsed = {key: parse(text) for key, text in files.items() if isinstance(text, str)}
    included = {other for key, tree in parsed.items() for inc in _includes(tree)
                for other in _matching(inc, parsed) if other != key}
    found: list[ProxyPass] = []
    for key, tree in parsed.items():
        if key not in included:
            context = _Context(upstreams=_collect_upstreams(parsed))
            found.extend(_walk(key, tree, context, parsed, depth=0))
    return found


def _includes(tree: list[Directive]) -> Iterator[str]:
    for d in tree:
        if d.name == "include" and d.args:
            yield d.args[0]
        if d.block:
            yield from _includes(d.block)


def _matching(pattern: str, parsed: dict[str, list[Directive]]) -> list[str]:
    base = pattern.rsplit("/", 1)[-1]
    return [key for key in parsed if fnmatch.fnmatch(key, base)]


def _collect_upstreams(parsed: dict[str, list[Directive]]) -> dict[str, list[str]]:
    upstreams: dict[str, list[str]] = {}

    def visit(tree: list[Directive]) -> None:
        for d in tree:
            if d.name == "upstream" and d.args and d.block is not None:
                upstreams[d.args[0]] = [s.args[0] for s in d.block if s.name == "server" and s.args]
            elif d.block:
                visit(d.block)
    for tree in parsed.values():
        visit(tree)
    return upstreams


def _walk(key: str, tree: list[Directive], ctx: _Context, parsed: dict[str, list[Directive]],
          depth: int) -> Iterator[ProxyPass]:
    if depth > 8:  # include loops
        return
    level = _Context(ctx.version, ctx.set_at, ctx.location, ctx.upstreams)
    for d in tree:  # the directive applies to the whole block, wherever in it it is written
        if d.name == "proxy_http_version" and d.args:
            level.version, level.set_at = d.args[0], f"{key} line {d.line}"
    for d in tree:
        if d.name == "proxy_pass" and d.args:
            yield ProxyPass(key, d.line, d.args[0], _upstream_hosts(d.args[0], level.upstreams), level.version,
                            level.set_at, level.location)
        elif d.name == "include" and d.args:
            for other in _matching(d.args[0], parsed):
                if other != key:
                    yield from _walk(other, parsed[other], level, parsed, depth + 1)
        elif d.block is not None and d.name != "upstream":
            inner = _Context(level.version, level.set_at,
                             " ".join(d.args) if d.name == "location" else level.location, level.upstreams)
            yield from _walk(key, d.block, inner, parsed, depth + 1)


def _upstream_hosts(target: str, upstreams: dict[str, list[str]]) -> tuple[str, ...]:
    """host[:port] a proxy_pass sends to: the URL's own host, or the servers of the upstream it names."""
    if "://" not in target:
        return ()
    netloc = urlsplit(target).netloc
    if "$" in netloc:
        return ()  # set at request time: cannot be known from the config
    return tuple(upstreams.get(netloc, [netloc]))


def split_host_port(server: str) -> tuple[str, int | None]:
    host, sep, port = server.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host.lower(), int(port)
    return server.lower(), None


def nginx_configs(snapshot: Snapshot) -> tuple[tuple[dict[str, Any], tuple[ProxyPass, ...]], ...]:
    """(ConfigMap, its proxy_passes without proxy_http_version 1.1) of every ConfigMap holding an NGINX
    config: parsed once per snapshot, not once per host of a scan."""
    def build() -> tuple[tuple[dict[str, Any], tuple[ProxyPass, ...]], ...]:
        found = []
        for cm in snapshot.all("configmaps"):
            files = configmap_files(cm)
            if any(looks_like_nginx(text) for text in files.values()):
                found.append((cm, tuple(p for p in proxy_passes(files) if p.http_version != "1.1")))
        return tuple(found)
    return snapshot.derived("nginx-configs", build)


def http10_hits(snapshot: Snapshot, host: str, services: list[dict[str, Any]],
                domain: str) -> list[tuple[dict[str, Any], list[ProxyPass]]]:
    """(ConfigMap, its proxy_passes that reach the host without proxy_http_version 1.1), per ConfigMap
    with any."""
    found = []
    for cm, passes in nginx_configs(snapshot):
        names = workloads.service_names(host, services, o.namespace(cm), domain)
        hits = [p for p in passes if any(split_host_port(h)[0] in names for h in p.upstream_hosts)]
        if hits:
            found.append((cm, hits))
    return found


def configmap_files(cm: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in o.as_dict(cm.get("data")).items() if isinstance(v, str)}
