"""The krew zipapp's entry point, stored in it as `__main__.py` in place of shiv's two lines.

shiv unpacks the dependencies once, into `~/.shiv`, before any of our code runs: with a read-only HOME
(a locked-down bastion, a CI container) that was a nine-line PermissionError traceback, and every
upgrade left another 68 MB behind. This entry chooses the directory first (SHIV_ROOT when set, else the
user's cache directory, else a private directory under the system's temporary one), unpacks there,
and removes what versions not run for a day unpacked (also from `~/.shiv`, where versions before this
one went). Standard library only: it runs before the dependencies exist.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path

UNUSED_FOR = 24 * 3600  # an unpacked version not run for this long is removed
USAGE_ERROR = 2  # the plugin's exit code for a problem the user fixes (FINDINGS.md)


def candidates() -> list[Path]:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [Path(cache) / "kubectl-meshdoctor", Path(tempfile.gettempdir()) / f"kubectl-meshdoctor-{os.getuid()}"]


def usable(folder: Path) -> bool:
    """Writable, and ours alone: a directory another user made (or can write) in a shared /tmp could
    hand us code to run."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
    except OSError:
        return False
    return (info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            and os.access(folder, os.W_OK | os.X_OK))


def clean(root: Path, name: str, current: str, now: float) -> None:
    """Unpacked versions other than this one, their locks and half-unpacked leftovers, once unused."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        stem = entry.name.lstrip(".").removesuffix("_lock").removesuffix(".tmp")
        if not stem.startswith(f"{name}_") or stem == current:
            continue
        try:
            if now - entry.stat().st_mtime < UNUSED_FOR:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        except OSError:
            continue


def main() -> None:
    archive = Path(sys.argv[0])
    with zipfile.ZipFile(archive) as zipped:
        environment = json.loads(zipped.read("environment.json"))
    build_id = environment["build_id"]
    name = archive.resolve().name
    chosen = os.environ.get("SHIV_ROOT")
    root = Path(chosen) if chosen else next((c for c in candidates() if usable(c)), None)
    if root is None:
        sys.stderr.write(f"error: kubectl-meshdoctor cannot unpack itself: neither {candidates()[0]} nor "
                         f"{candidates()[1]} is a writable directory of yours; set SHIV_ROOT to one\n")
        sys.exit(USAGE_ERROR)
    os.environ["SHIV_ROOT"] = str(root)
    import _bootstrap  # shiv's, stored beside this file in the zipapp

    current = f"{name}_{build_id}"
    try:
        with zipfile.ZipFile(archive) as zipped:
            target = _bootstrap.cache_path(zipped, str(root), build_id)
            if not (target / "site-packages").exists():
                _bootstrap.extract_site_packages(zipped, target, environment.get("compile_pyc", False),
                                                 environment.get("compile_workers", 0))
        os.utime(target)  # in use: not removed as unused by another version's run
    except OSError as exc:
        sys.stderr.write(f"error: kubectl-meshdoctor cannot unpack itself into {root}: {exc.strerror or exc}; "
                         "set SHIV_ROOT to a writable directory\n")
        sys.exit(USAGE_ERROR)
    now = time.time()
    for folder in {root, Path(os.path.expanduser("~/.shiv"))}:
        clean(folder, name, current, now)
    _bootstrap.bootstrap()


if __name__ == "__main__":
    main()
