"""`checks`, `explain` and `version`: what the plugin knows, no cluster needed. The catalogue and the
registry are imported only by the commands that show them, so `version` stays instant."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from kubectl_meshdoctor import __version__
from kubectl_meshdoctor.errors import UsageError

if TYPE_CHECKING:
    from kubectl_meshdoctor.report.docs import Catalogue, Explanation, Version


def catalogue() -> Catalogue:
    from kubectl_meshdoctor.checks.catalogue import CATALOGUE
    from kubectl_meshdoctor.checks.registry import IMPLEMENTED
    from kubectl_meshdoctor.report.docs import Catalogue

    return Catalogue(CATALOGUE, IMPLEMENTED)


def explanation(code: str) -> Explanation:
    from kubectl_meshdoctor.checks.catalogue import BY_CODE, BY_ID, lookup
    from kubectl_meshdoctor.report.docs import Explanation

    entry = lookup(code)
    if entry is None:
        close = difflib.get_close_matches(code.lower(), list(BY_ID), n=3) or \
            difflib.get_close_matches(code.upper(), list(BY_CODE), n=3)
        raise UsageError(f"unknown check {code!r}" + (f"; did you mean {' or '.join(close)}?" if close else
                                                       "; `kubectl meshdoctor checks` lists them all"))
    return Explanation(entry)


def version() -> Version:
    from kubectl_meshdoctor.report.docs import Version

    return Version(__version__)
