"""`snapshot`: write what a scope read saw (never Secrets), for a post-mortem or `--offline -f` later."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import yaml

from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.cluster.resources import BY_KEY
from kubectl_meshdoctor.run.scope import Scope, read_scope
from kubectl_meshdoctor.snapshot.files import CAPTURED_ANNOTATION


def dump(kube: KubeOptions, all_namespaces: bool, path: str, cluster_domain: str) -> None:
    scope = read_scope(kube, all_namespaces, [], False, cluster_domain)
    count = write_snapshot(scope, path, scope.snapshot.context)
    sys.stderr.write(f"wrote {count} objects to {path}\n")


def write_snapshot(scope: Scope, path: str, context: str | None) -> int:
    """One YAML List of the collections read (never Secrets; of ConfigMaps only the mesh config), with a
    header comment and the list of collections it holds, so that an empty one is known to be empty."""
    items = []
    captured = sorted(k for k, s in scope.snapshot.statuses.items() if s.ok)
    for key in captured:
        resource = BY_KEY[key]
        if resource.stores_as:
            continue  # gateway pods are stored with the other pods
        api_version = f"{resource.group}/{resource.versions[0]}" if resource.group else resource.versions[0]
        for obj in scope.snapshot.all(key):
            items.append({"apiVersion": api_version, "kind": resource.kind,
                          **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}})
    header = (f"# meshdoctor snapshot of {'all namespaces' if scope.namespace is None else scope.namespace}, "
              f"context {context or '-'}, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
              f"Istio {scope.settings.describe_version()}\n"
              "# Secrets are never read; of the ConfigMaps only the mesh config is.\n")
    document: dict[str, Any] = {"apiVersion": "v1", "kind": "List",
                                "metadata": {"annotations": {CAPTURED_ANNOTATION: ",".join(captured)}},
                                "items": items}
    Path(path).write_text(header + yaml.safe_dump(document, sort_keys=False))
    return len(items)
