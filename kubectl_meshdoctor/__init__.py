"""kubectl-meshdoctor: explains why traffic to a host in an Istio mesh fails, and how to fix it."""

__version__ = "0.1.0"

import sys as _sys

if _sys.version_info < (3, 11):  # noqa: UP036 - a zipapp runs on whatever python3 is on PATH
    _sys.stderr.write(f"error: kubectl-meshdoctor needs Python 3.11 or newer; this is {_sys.version.split()[0]}\n")
    raise SystemExit(1)
