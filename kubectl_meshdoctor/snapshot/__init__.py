"""The immutable snapshot of cluster objects a run works on, and its loaders (live, files, overlay)."""

from kubectl_meshdoctor.snapshot.model import Snapshot

__all__ = ["Snapshot"]
