"""A YAML loader that reads plain scalars the way Kubernetes and Istio do.

Kubernetes objects are parsed with sigs.k8s.io/yaml, i.e. go-yaml, whose scanner ends a plain scalar
at `: ` (a colon followed by a blank) only; libyaml, and so PyYAML's fast loader, also refuses a colon
followed by `]`, `}` or `,` inside a flow collection. So `addresses: [1.2.3.4, 001:db8::]`, which
Istio's own ServiceEntry test data holds (pkg/config/validation/testdata/crds/serviceentry-valid.yaml)
and the API server accepts, is "invalid YAML" to libyaml and a mapping to PyYAML's pure loader. This
loader is used only when the fast one fails that way.
"""

from __future__ import annotations

import yaml
from yaml.tokens import ScalarToken

BREAKS = "\0 \t\r\n\x85\u2028\u2029"
FLOW_INDICATORS = ",?[]{}"


class GoYamlLoader(yaml.SafeLoader):
    def scan_plain(self) -> ScalarToken:
        """PyYAML's plain-scalar scan with go-yaml's end rule: a colon ends the scalar only before a
        blank; in a flow collection `,?[]{}` end it too."""
        chunks: list[str] = []
        start_mark = end_mark = self.get_mark()
        indent = self.indent + 1
        spaces: list[str] = []
        while self.peek() != "#":
            length = 0
            while True:
                ch = self.peek(length)
                if ch in BREAKS or (ch == ":" and self.peek(length + 1) in BREAKS) or \
                        (self.flow_level and ch in FLOW_INDICATORS):
                    break
                length += 1
            if length == 0:
                break
            self.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(self.prefix(length))
            self.forward(length)
            end_mark = self.get_mark()
            spaces = self.scan_plain_spaces(indent, start_mark) or []
            if not spaces or self.peek() == "#" or (not self.flow_level and self.column < indent):
                break
        return ScalarToken("".join(chunks), True, start_mark, end_mark)


def colon_in_flow(exc: yaml.YAMLError) -> bool:
    """The fast loader's complaint about a colon that go-yaml reads as part of a scalar."""
    return isinstance(exc, yaml.scanner.ScannerError) and "found unexpected ':'" in str(exc)
