"""Distribution: the krew manifest (strictly validated), the release archive installed the way krew
installs it and run through kubectl, and the wheel in a fresh virtualenv (the pipx route)."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from release.validate_manifest import validate
from tests.conftest import EXAMPLES, ROOT

MANIFEST = yaml.safe_load((ROOT / "krew-manifest.yaml").read_text())
KUBECTL = shutil.which("kubectl")


def test_committed_manifest_is_valid():
    assert validate(MANIFEST, "krew-manifest.yaml") == []


def broken(change) -> dict:
    doc = copy.deepcopy(MANIFEST)
    change(doc)
    return doc


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda d: d["spec"].update(shortDesciption="typo"), "unknown key 'shortDesciption'"),
    (lambda d: d["spec"].update(shortDescription="x" * 51), "at most 50 characters"),
    (lambda d: d["spec"].update(description="kubectl meshdoctor host reviews -n bookinfo"), "usage"),
    (lambda d: d["spec"].update(description="x" * 81), "wrapped at 80"),
    (lambda d: d["spec"]["platforms"][0].update(sha256="A" * 64), "64 lowercase hex"),
    (lambda d: d["spec"]["platforms"][0]["selector"]["matchExpressions"][0].update(key="distro"), "os and arch"),
    (lambda d: d["spec"]["platforms"].append(copy.deepcopy(d["spec"]["platforms"][0])), "matched by 2 platforms"),
    (lambda d: d["spec"]["platforms"][0].update(files=[{"from": "kubectl-meshdoctor", "to": "."}]), "license"),
    (lambda d: d["spec"].update(caveats="none"), "Python requirement"),
    (lambda d: d["spec"].update(version="0.1.0"), "leading v"),
])
def test_validator_rejects_broken_copies(change, complaint):
    errors = validate(broken(change), "krew-manifest.yaml")
    assert any(complaint in e for e in errors), errors


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    from release.build import build

    return build(tmp_path_factory.mktemp("dist"))


def test_release_manifest_carries_the_archive_digest(release):
    import hashlib

    archive, manifest_path = release
    manifest = yaml.safe_load(manifest_path.read_text())
    assert validate(manifest, "meshdoctor.yaml") == []
    assert manifest["spec"]["platforms"][0]["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()


def test_the_validator_checks_the_archive_against_the_manifest(release, tmp_path):
    archive, manifest_path = release
    ok = subprocess.run([sys.executable, "-m", "release.validate_manifest", str(manifest_path), "--archive",
                         str(archive)], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "is the archive it names" in ok.stdout
    other = tmp_path / "other.tar.gz"
    other.write_bytes(archive.read_bytes() + b"\0")
    bad = subprocess.run([sys.executable, "-m", "release.validate_manifest", str(manifest_path), "--archive",
                          str(other)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "the archive's is" in bad.stdout


def test_two_builds_of_one_commit_are_the_same_bytes(release, tmp_path):
    """Reproducible: every timestamp pinned (zip entries, hash-based .pyc, tar and gzip headers)."""
    import hashlib

    from release.build import build

    again, _ = build(tmp_path / "again")
    first, _ = release
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(first.read_bytes()).hexdigest()


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")
def test_krew_style_install_runs_through_kubectl(release, tmp_path):
    archive, manifest_path = release
    platform = yaml.safe_load(manifest_path.read_text())["spec"]["platforms"][0]
    unpacked, installed, bin_dir = tmp_path / "download", tmp_path / "store", tmp_path / "bin"
    for d in (unpacked, installed, bin_dir):
        d.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    for rule in platform["files"]:  # krew's `files`: from (in the archive) -> to (in the install dir)
        shutil.copy2(unpacked / rule["from"], installed / rule["to"])
    assert (installed / "LICENSE").exists()
    (bin_dir / "kubectl-meshdoctor").symlink_to(installed / platform["bin"])
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
           "HOME": str(tmp_path), "NO_COLOR": "1"}
    version = subprocess.run([KUBECTL, "meshdoctor", "version"], capture_output=True, text=True, env=env,
                             timeout=120, check=False)
    assert version.returncode == 0 and version.stdout.startswith("kubectl-meshdoctor"), version.stderr
    demo = subprocess.run([KUBECTL, "meshdoctor", "host", "reviews", "-n", "bookinfo", "--offline", "-f",
                           str(EXAMPLES / "bookinfo")], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert demo.returncode == 1 and "MD101 vs-mesh-duplicate-host" in demo.stdout


def test_wheel_installs_in_a_fresh_virtualenv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, timeout=300)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    [wheel] = wheels.glob("*.whl")
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=600)
    result = subprocess.run([str(venv / "bin" / "kubectl-meshdoctor"), "version"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and result.stdout.startswith("kubectl-meshdoctor")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")
def test_the_zipapp_completes_when_called_as_the_kubectl_completer(release, tmp_path):
    archive, _ = release
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    completer = tmp_path / "kubectl_complete-meshdoctor"
    completer.symlink_to(tmp_path / "kubectl-meshdoctor")
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    out = subprocess.run([str(completer), "sc"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.stdout.splitlines() == ["scan", ":4"]


@pytest.fixture(scope="module")
def zipapp(release, tmp_path_factory) -> Path:
    archive, _ = release
    folder = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder / "kubectl-meshdoctor"


def run_zipapp(zipapp: Path, home: Path, tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SHIV_ROOT", "XDG_CACHE_HOME")}
    return subprocess.run([str(zipapp), *(args or ("version",))], capture_output=True, text=True, timeout=300,
                          check=False, env={**clean, "HOME": str(home), "TMPDIR": str(tmp), **env})


def test_the_zipapp_unpacks_into_the_users_cache_not_a_dot_shiv_in_home(zipapp, tmp_path):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir(), tmp.mkdir()
    result = run_zipapp(zipapp, home, tmp)
    assert result.returncode == 0 and result.stdout.startswith("kubectl-meshdoctor"), result.stderr
    [unpacked] = [p for p in (home / ".cache" / "kubectl-meshdoctor").iterdir() if p.is_dir()]
    assert unpacked.name.startswith("kubectl-meshdoctor_") and (unpacked / "site-packages").is_dir()
    assert not (home / ".shiv").exists() and not list(tmp.iterdir())


def test_without_a_writable_home_the_zipapp_unpacks_into_a_private_temporary_directory(zipapp, tmp_path):
    """HOME a file (read-only as far as anyone can tell, root included): the issue's 9-line traceback."""
    home, tmp = tmp_path / "home-is-a-file", tmp_path / "tmp"
    home.write_text(""), tmp.mkdir()
    result = run_zipapp(zipapp, home, tmp, "host", "reviews", "-n", "bookinfo", "--offline", "-f",
                        str(EXAMPLES / "bookinfo"))
    assert result.returncode == 1 and "MD101 vs-mesh-duplicate-host" in result.stdout, result.stderr
    private = tmp / f"kubectl-meshdoctor-{os.getuid()}"
    assert private.is_dir() and private.stat().st_mode & 0o077 == 0
    assert "Traceback" not in result.stderr


def test_when_it_cannot_unpack_the_zipapp_says_so_in_one_line(zipapp, tmp_path):
    """SHIV_ROOT names a file: the user's own choice is used as given, and its failure explained."""
    home, nowhere = tmp_path / "home", tmp_path / "file"
    home.mkdir(), nowhere.write_text("")
    result = run_zipapp(zipapp, home, tmp_path, SHIV_ROOT=str(nowhere))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: kubectl-meshdoctor cannot unpack itself into {nowhere}: ")
    assert "set SHIV_ROOT to a writable directory" in result.stderr


def test_the_zipapp_removes_what_versions_unused_for_a_day_unpacked(zipapp, tmp_path):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir(), tmp.mkdir()
    cache, legacy = home / ".cache" / "kubectl-meshdoctor", home / ".shiv"
    old, recent, other = cache / "kubectl-meshdoctor_0ld", cache / "kubectl-meshdoctor_r3cent", cache / "unrelated"
    shiv_old = legacy / "kubectl-meshdoctor_1egacy"
    for folder in (old / "site-packages", recent / "site-packages", other, shiv_old / "site-packages"):
        folder.mkdir(parents=True)
    lock = cache / ".kubectl-meshdoctor_0ld_lock"
    lock.write_text("")
    two_days_ago = time.time() - 2 * 24 * 3600
    for path in (old, lock, other, shiv_old):
        os.utime(path, (two_days_ago, two_days_ago))
    result = run_zipapp(zipapp, home, tmp)
    assert result.returncode == 0, result.stderr
    left = sorted(p.name for p in cache.iterdir())
    assert "kubectl-meshdoctor_0ld" not in left and ".kubectl-meshdoctor_0ld_lock" not in left
    assert {"kubectl-meshdoctor_r3cent", "unrelated"} <= set(left)  # in use lately; not ours
    assert any(n.startswith("kubectl-meshdoctor_") and n not in ("kubectl-meshdoctor_r3cent",) for n in left)
    assert not shiv_old.exists()
