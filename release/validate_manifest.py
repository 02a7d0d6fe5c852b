"""A strict validator for the krew manifest (ECOSYSTEM.md §1.1-1.2).

krew parses manifests leniently, so a misspelled key is silently ignored; this one rejects unknown
keys, and adds the index's review rules (short description, wrapped description without usage, the
Python caveat, a license among the installed files).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {("windows", a) for a in ("386", "amd64", "arm64")} | \
    {("linux", a) for a in ("386", "amd64", "arm", "arm64", "ppc64le")} | \
    {("darwin", a) for a in ("386", "amd64", "arm64")}
KEYS = {"": {"apiVersion", "kind", "metadata", "spec"}, "metadata": {"name"},
        "spec": {"version", "homepage", "shortDescription", "description", "caveats", "platforms"},
        "platform": {"selector", "uri", "sha256", "files", "bin"}, "selector": {"matchLabels", "matchExpressions"},
        "expression": {"key", "operator", "values"}, "file": {"from", "to"}}
LICENSE = re.compile(r"^(license(\.txt|\.md)?|licenses.*|copying.*)$", re.I)


def _unknown(where: str, obj: Any, allowed: set[str]) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where or 'manifest'}: expected a mapping"]
    return [f"{where or 'manifest'}: unknown key {k!r}" for k in obj if k not in allowed]


def _matches(selector: dict[str, Any], os_: str, arch: str) -> bool:
    labels = {"os": os_, "arch": arch}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        value = labels.get(e.get("key"))
        if (e.get("operator") == "In" and value not in e.get("values", [])) or \
                (e.get("operator") == "NotIn" and value in e.get("values", [])):
            return False
    return True


def validate(manifest: Any, filename: str = "meshdoctor.yaml") -> list[str]:
    errors = _unknown("", manifest, KEYS[""])
    if errors and not isinstance(manifest, dict):
        return errors
    if manifest.get("apiVersion") != "krew.googlecontainertools.github.com/v1alpha2":
        errors.append("apiVersion must be krew.googlecontainertools.github.com/v1alpha2")
    if manifest.get("kind") != "Plugin":
        errors.append("kind must be Plugin")
    meta, spec = manifest.get("metadata") or {}, manifest.get("spec") or {}
    errors += _unknown("metadata", meta, KEYS["metadata"]) + _unknown("spec", spec, KEYS["spec"])
    name = meta.get("name", "")
    if not re.fullmatch(r"[\w-]+", name or "") or filename.rsplit("/", 1)[-1] not in (f"{name}.yaml",
                                                                                      "krew-manifest.yaml"):
        errors.append(f"metadata.name {name!r} must be a plain name matching the file name")
    if not re.fullmatch(r"v\d+\.\d+\.\d+([-+].*)?", str(spec.get("version", ""))):
        errors.append("spec.version must be semver with a leading v")
    short = spec.get("shortDescription", "")
    if not short or "\n" in short or len(short) > 50:
        errors.append("spec.shortDescription must be one line of at most 50 characters")
    description = spec.get("description", "")
    if any(len(line) > 80 for line in description.splitlines()):
        errors.append("spec.description must be wrapped at 80 columns")
    if re.search(r"(^|\s)(kubectl meshdoctor|--\w|usage:)", description, re.I):
        errors.append("spec.description must not carry usage or flags (that belongs in --help)")
    if not re.search(r"python3? *>= *3\.\d+", spec.get("caveats", ""), re.I):
        errors.append("spec.caveats must state the Python requirement")
    platforms = spec.get("platforms") or []
    if not platforms:
        errors.append("spec.platforms must list at least one platform")
    covered: dict[tuple[str, str], int] = {}
    for i, p in enumerate(platforms):
        where = f"spec.platforms[{i}]"
        errors += _unknown(where, p, KEYS["platform"])
        if not isinstance(p, dict):
            continue
        selector = p.get("selector") or {}
        errors += _unknown(f"{where}.selector", selector, KEYS["selector"])
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            errors.append(f"{where}.selector must not be empty")
        keys = set(selector.get("matchLabels") or {}) | {e.get("key") for e in selector.get("matchExpressions") or []}
        for e in selector.get("matchExpressions") or []:
            errors += _unknown(f"{where}.selector.matchExpressions", e, KEYS["expression"])
        if keys - {"os", "arch"}:
            errors.append(f"{where}.selector may only use the keys os and arch")
        matched = [pair for pair in SUPPORTED if _matches(selector, *pair)]
        if not matched:
            errors.append(f"{where}.selector matches no supported platform")
        for pair in matched:
            covered[pair] = covered.get(pair, 0) + 1
        if not p.get("uri"):
            errors.append(f"{where}.uri is required")
        if not re.fullmatch(r"[a-f0-9]{64}", str(p.get("sha256", ""))):
            errors.append(f"{where}.sha256 must be 64 lowercase hex characters")
        if not p.get("bin"):
            errors.append(f"{where}.bin is required")
        files = p.get("files")
        if files is not None and not files:
            errors.append(f"{where}.files must not be empty when present")
        for f in files or []:
            errors += _unknown(f"{where}.files", f, KEYS["file"])
            if not (isinstance(f, dict) and f.get("from") and f.get("to")):
                errors.append(f"{where}.files entries need from and to")
        if files and not any(LICENSE.match(str(f.get("from", "")).rsplit("/", 1)[-1]) for f in files
                             if isinstance(f, dict)):
            errors.append(f"{where}.files must install a license file")
    errors += [f"platform {os_}/{arch} is matched by {n} platforms" for (os_, arch), n in covered.items() if n > 1]
    return errors


def archive_errors(manifest: Any, archive: Path) -> list[str]:
    """The archive krew will download must be the one the manifest's sha256 names, and hold what the
    platforms install (their `bin` and the `from` of their files)."""
    import hashlib
    import tarfile

    errors = []
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    for i, p in enumerate((manifest.get("spec") or {}).get("platforms") or []):
        if p.get("sha256") != digest:
            errors.append(f"spec.platforms[{i}].sha256 is {p.get('sha256')}, the archive's is {digest}")
        wanted = [str(f.get("from", "")) for f in p.get("files") or [] if isinstance(f, dict)] or [str(p.get("bin"))]
        errors += [f"spec.platforms[{i}]: the archive has no {w}" for w in wanted if w not in names]
    return errors


def main() -> None:
    args = sys.argv[1:]
    archive = None
    if "--archive" in args:
        at = args.index("--archive")
        archive, args = Path(args[at + 1]), args[:at] + args[at + 2:]
    path = args[0] if args else "krew-manifest.yaml"
    with open(path) as f:
        manifest = yaml.safe_load(f)
    errors = validate(manifest, path) + (archive_errors(manifest, archive) if archive else [])
    print("\n".join(errors) or f"{path}: valid" + (f", and {archive} is the archive it names" if archive else ""))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
