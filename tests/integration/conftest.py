"""The real control plane, started once for the integration suite.

In CI (CI=true) a missing build is built (cluster/build.sh, about five minutes the first time on two
cores; later runs use the cache) and any failure to build or start fails the run. On a developer
machine without the built binaries the suite is skipped, saying how to enable it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.realcluster import BUILD, CACHE, RealCluster


def _binaries_ready() -> bool:
    return (CACHE / "kube-apiserver").exists() and (CACHE / "kube-controller-manager").exists()


@pytest.fixture(scope="session")
def real() -> Iterator[RealCluster]:
    in_ci = os.environ.get("CI") == "true"
    if in_ci or _binaries_ready():
        subprocess.run(["bash", str(BUILD), str(CACHE)], check=True)  # also installs etcd and openssl
    else:
        pytest.skip(reason=f"no kube-apiserver built in {CACHE}: run `bash {BUILD}` once (about five minutes, "
                           "needs root for apt-get) to enable the real API server suite")
    cluster = RealCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        try:
            mutating = [e for e in cluster.plugin_requests() if e["verb"] not in ("get", "list", "watch")]
            assert not mutating, f"the plugin wrote: {[(e['verb'], e['requestURI']) for e in mutating[:5]]}"
        finally:
            cluster.remove()
