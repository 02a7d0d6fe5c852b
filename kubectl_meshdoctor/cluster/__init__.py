"""Cluster access: kubeconfig resolution and raw, parallel, paginated reads. The only package
that imports `kubernetes`."""
