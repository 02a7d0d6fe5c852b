"""Build the krew release: one `shiv --compile-pyc` zipapp (pure-Python dependency closure, so one
archive serves linux and macOS) plus LICENSE in `dist/kubectl-meshdoctor.tar.gz`, and the manifest
with this build's version and sha256 in `dist/meshdoctor.yaml`.

    .venv/bin/python -m release.build
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


# Every timestamp in the release (zip entries, hash-based .pyc headers, tar and gzip headers) is this
# one, so two builds of one commit are the same bytes (`SOURCE_DATE_EPOCH`, reproducible-builds.org).
EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can carry


def build(out: Path = ROOT / "dist") -> tuple[Path, Path]:
    from kubectl_meshdoctor import __version__

    out.mkdir(parents=True, exist_ok=True)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", EPOCH))
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as stage:
        zipapp = Path(stage) / "kubectl-meshdoctor"
        subprocess.run([sys.executable, "-m", "shiv", "-c", "kubectl-meshdoctor", "--compile-pyc", "--reproducible",
                        "--python", "/usr/bin/env python3", "-o", str(zipapp), str(ROOT)], check=True,
                       stdout=subprocess.DEVNULL, env=env)
        with_our_entry(zipapp)
        archive = out / "kubectl-meshdoctor.tar.gz"
        with archive.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=epoch) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, mode in ((zipapp, 0o755), (ROOT / "LICENSE", 0o644)):
                info = tar.gettarinfo(str(path), arcname=path.name)
                info.mode, info.uid, info.gid, info.uname, info.gname, info.mtime = mode, 0, 0, "", "", epoch
                with path.open("rb") as f:
                    tar.addfile(info, io.BytesIO(f.read()))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    manifest = yaml.safe_load((ROOT / "krew-manifest.yaml").read_text())
    version = f"v{__version__}"
    manifest["spec"]["version"] = version
    for platform in manifest["spec"]["platforms"]:
        platform["sha256"] = digest
        platform["uri"] = platform["uri"].replace(f"/download/{platform['uri'].split('/download/')[1].split('/')[0]}/",
                                                  f"/download/{version}/")
    filled = out / "meshdoctor.yaml"
    filled.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return archive, filled


def with_our_entry(zipapp: Path) -> None:
    """shiv's `__main__.py` replaced by release/zipapp_main.py (where to unpack, and cleaning up);
    every other entry, the shebang and the pinned timestamps kept as shiv wrote them."""
    raw = zipapp.read_bytes()
    shebang = raw[:raw.index(b"\n") + 1] if raw.startswith(b"#!") else b""
    with zipfile.ZipFile(io.BytesIO(raw)) as original:
        entries = [(info, original.read(info)) for info in original.infolist()]
    with zipapp.open("wb") as out:
        out.write(shebang)
        with zipfile.ZipFile(out, "w") as rewritten:
            for info, data in entries:
                if info.filename == "__main__.py":
                    data = (Path(__file__).parent / "zipapp_main.py").read_bytes()
                rewritten.writestr(info, data)
    zipapp.chmod(0o755)


if __name__ == "__main__":
    archive, manifest = build()
    print(f"{archive}\n{manifest}")
