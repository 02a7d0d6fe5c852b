"""The Istio model: how Istio itself reads the snapshot (hosts, visibility, versions, workloads)."""
