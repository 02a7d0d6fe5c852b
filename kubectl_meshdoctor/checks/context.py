"""What every check receives: the snapshot, the mesh settings and the target host."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kubectl_meshdoctor.mesh.changes import ChangeSet
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.target import Target
from kubectl_meshdoctor.mesh.tls import TlsRow, build_rows
from kubectl_meshdoctor.mesh.views import RoutingModel, build_model
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o


def reads(*keys: str) -> Callable[[Callable[[Any], str | None]], Callable[[Any], str | None]]:
    """Declares the collections an `applies` predicate looks at: when they are readable it is asked
    before the check's other data, so an inapplicable question is not-run even if that data is missing."""
    def wrap(fn: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        fn.reads = keys  # type: ignore[attr-defined]
        return fn
    return wrap



@dataclass(frozen=True)
class CheckContext:
    snapshot: Snapshot
    settings: MeshSettings
    target: Target
    change: ChangeSet | None = None  # what-if: the live world before the -f files, and those files

    @property
    def live(self) -> bool:
        return self.snapshot.mode != "offline"

    @cached_property
    def routing(self) -> RoutingModel:
        """Built once per run and shared by the routing, TLS and subset checks."""
        return build_model(self.snapshot, self.settings, self.target)

    @cached_property
    def tls_rows(self) -> list[TlsRow]:
        """Client and server TLS for every client view, port and subset of the host's Services."""
        views = [v for v in self.routing.views if v.has_callers]
        return build_rows(self.snapshot, views, self.target, self.settings, self.routing.lookup_for)

    @cached_property
    def workload_services(self) -> list[dict[str, Any]]:
        """The Services behind the host that have endpoints and pods (ExternalName ones resolve by DNS)."""
        found = (self.snapshot.get("services", ref.namespace, ref.name) for ref in self.target.services)
        return [svc for svc in found if svc is not None and o.spec(svc).get("type") != "ExternalName"]


def app_containers(ctx: CheckContext) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod, container) for every application container (not the proxy) of the pods behind the host."""
    from kubectl_meshdoctor.mesh.workloads import PROXY_CONTAINER, service_pods

    for svc in ctx.workload_services:
        for pod in service_pods(ctx.snapshot, svc):
            for container in o.as_list(o.spec(pod).get("containers")):
                container = o.as_dict(container)
                if container.get("name") != PROXY_CONTAINER:
                    yield pod, container


@reads("services")
def has_workloads(ctx: CheckContext) -> str | None:
    """`applies` for checks about pods and endpoints: not-run, with the reason, when there are none."""
    if ctx.workload_services:
        return None
    if ctx.target.services:
        return f"{ctx.target.host} is an ExternalName Service: resolved by DNS, no endpoints or pods"
    return f"no Service serves {ctx.target.host}"
