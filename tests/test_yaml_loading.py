"""YAML read from the parser's events (snapshot/yamlevents.py): the same values as PyYAML's SafeLoader,
which stays the reference here, without its node graph; aliases counted, never expanded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubectl_meshdoctor.snapshot import yamlevents
from tests.conftest import offline, run_cli

CSafe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# What Kubernetes YAML holds in practice, and the YAML 1.1 corners PyYAML decides for us.
DOCUMENTS = [
    "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {app: a}}\nspec:\n  ports:\n  - port: 9080\n",
    "a: yes\nb: 'yes'\nc: 0o17\nd: 017\ne: 1_000\nf: 1:30\ng: .inf\nh: ~\ni: null\nj: ''\nk: 0x1F\nl: -1.5e3\n",
    "created: 2026-01-01T00:00:00Z\nday: 2026-01-01\nquoted: '2026-01-01'\n",
    "mesh: |\n  defaultConfig:\n    holdApplicationUntilProxyStarts: true\nfolded: >\n  one\n  two\n",
    "base: &b {x: 1, y: 2}\nover:\n  <<: *b\n  y: 3\nlist:\n  <<: [{p: 1}, {p: 2, q: 3}]\n  r: 4\n",
    "shared: &s [1, 2]\nagain: [*s, *s]\n'<<': a quoted key is a string\n",
    "tagged: !!str 5\nbytes: !!binary aGVsbG8=\nnum: !!int '7'\nfl: !!float '1'\nlocal: ! 12\n",
    "---\n---\nkind: A\n---\n# only a comment\n",
    "",
    "- a\n- [b, {c: d}]\n- ? e\n  : f\n",
    "unicode: \"caf\\u00e9 \\U0001F600\"\nsingle: 'it''s'\n",
]


def ours(text: str, loader: type = CSafe) -> list[object]:
    return [doc for _, doc in yamlevents.documents(yaml.parse(text, Loader=loader), 10**6)]


@pytest.mark.parametrize("text", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_values_are_pyyamls_own(text):
    assert ours(text) == list(yaml.load_all(text, Loader=CSafe))
    assert ours(text, yaml.SafeLoader) == list(yaml.load_all(text, Loader=yaml.SafeLoader))


def test_document_lines_are_where_each_document_starts():
    text = "# head\n---\nkind: A\n---\n\n\nkind: B\n"
    assert [line for line, _ in yamlevents.documents(yaml.parse(text, Loader=CSafe), 10)] == [3, 7]


def test_aliases_are_counted_by_what_they_add_not_by_the_size_of_the_document():
    anchor = "a: &a [" + ", ".join(["x"] * 100) + "]\n"
    twice = anchor + "b: [*a, *a]\n"  # each alias adds the anchor's 101 nodes
    assert ours(twice)[0]["b"] == [["x"] * 100] * 2
    with pytest.raises(yamlevents.TooManyAliases):
        list(yamlevents.documents(yaml.parse(twice, Loader=CSafe), 201))
    big = "items:\n" + "".join(f"- {{name: n{i}, value: v{i}}}\n" for i in range(50_000))  # 200k nodes, no alias
    (_, doc), = yamlevents.documents(yaml.parse(big, Loader=CSafe), 0)
    assert len(doc["items"]) == 50_000


def test_a_recursive_alias_is_refused_not_followed():
    with pytest.raises(yaml.YAMLError):  # libyaml: an alias to an anchor still open is undefined
        ours("a: &a [*a]\n")


@pytest.mark.parametrize("text, what", [("s: !!set {a, b}\n", "the tag tag:yaml.org,2002:set"),
                                        ("? [a]\n: 1\n", "a mapping or sequence used as a key")])
def test_what_kubernetes_objects_never_hold_is_a_clear_error(tmp_path: Path, text, what):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    result = run_cli("host", "x", *offline(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: not a Kubernetes object: the YAML uses {what}"


def test_a_big_list_without_aliases_reads_as_its_json_twin(tmp_path: Path):
    """The issue's 3,000-pod dump was refused as a "YAML bomb" when nodes were counted (200,000 at most);
    1,000 pods are nearly 300,000 nodes and no alias."""
    from bench.generate import make_world

    world = {"apiVersion": "v1", "kind": "List", "items": make_world(1000)}
    as_yaml, as_json = tmp_path / "dump.yaml", tmp_path / "dump.json"
    as_yaml.write_text(yaml.dump(world, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))
    as_json.write_text(json.dumps(world))
    from_yaml = run_cli("scan", "-A", "-o", "json", *offline(as_yaml))
    from_json = run_cli("scan", "-A", "-o", "json", *offline(as_json))
    assert from_yaml.exit_code == from_json.exit_code and len(from_yaml.json()["reports"]) == 101
    assert from_yaml.stdout.replace(str(as_yaml), "F") == from_json.stdout.replace(str(as_json), "F")
