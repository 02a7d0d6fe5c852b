"""kubectl-meshdoctor: explains why traffic to a host in an Istio mesh fails, and how to fix it."""

__version__ = "0.1.0"
