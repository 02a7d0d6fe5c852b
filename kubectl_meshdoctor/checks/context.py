"""What every check receives: the snapshot, the mesh settings and the target host."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.target import Target
from kubectl_meshdoctor.mesh.views import RoutingModel, build_model
from kubectl_meshdoctor.snapshot import Snapshot


@dataclass(frozen=True)
class CheckContext:
    snapshot: Snapshot
    settings: MeshSettings
    target: Target

    @property
    def live(self) -> bool:
        return self.snapshot.mode != "offline"

    @cached_property
    def routing(self) -> RoutingModel:
        """Built once per run and shared by the routing, TLS and subset checks."""
        return build_model(self.snapshot, self.settings, self.target)
