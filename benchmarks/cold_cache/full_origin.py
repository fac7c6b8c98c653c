"""An origin folder that holds every file a proxy may ask for, not only what the go command took.

The project's ``cache/download`` folder holds what ``go mod download all`` downloaded: the
``.info``, ``.mod`` and ``.zip`` of each module of the build list, but only the ``.mod`` of the
versions the module graph names without building them (155 of 573 for Prometheus). The go
command asks a proxy only for those ``.mod`` files; Athens and goproxy, on a miss, fetch the
whole version (``.info``, ``.mod`` and ``.zip``) and fail when the origin has no zip. So before a
run that includes them, the missing ``.info`` and ``.zip`` are downloaded once with the go
command itself (through the machine's own Go environment, outside any benchmark timing) into
``.cache/peers/<project>-extra``, and the union of both folders is linked into
``.cache/peers/<project>-origin``. Both are kept: a second run reuses them.

Run alone: ``.venv/bin/python -m benchmarks.cold_cache.full_origin`` (prints the folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.peers import unescape

REPO = Path(__file__).resolve().parents[2]
DOWNLOAD = REPO / ".cache" / "corpus" / "projects" / "prometheus" / "pkg" / "mod" / "cache"
DOWNLOAD = DOWNLOAD / "download"
WORK = REPO / ".cache" / "peers"
_SKIP = {"lock", "sumdb"}


def mod_only_versions(download: Path) -> list[str]:
    """``module@version`` of every version in ``download`` with a ``.mod`` and no ``.zip``."""
    found: list[str] = []
    for mod in sorted(download.glob("**/@v/*.mod")):
        if not mod.with_suffix(".zip").is_file():
            module = unescape(mod.parent.parent.relative_to(download).as_posix())
            found.append(f"{module}@{unescape(mod.name.removesuffix('.mod'))}")
    return found


def _json_stream(text: str) -> list[dict[str, object]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return out
        value, at = decoder.raw_decode(text, at)
        out.append(value)


def _go_download(targets: list[str], modcache: Path) -> list[dict[str, object]]:
    """``go mod download -json TARGETS`` into ``modcache`` with the machine's Go settings."""
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(modcache),
        GOPATH=str(modcache.parent / "gopath"),
        GOFLAGS="-modcacherw",
        GOTOOLCHAIN="local",
        GOWORK="off",
        GOTELEMETRY="off",
    )
    with tempfile.TemporaryDirectory(prefix="full-origin-") as cwd:  # outside any module
        proc = subprocess.run(
            ["go", "mod", "download", "-json", *targets],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
    return _json_stream(proc.stdout)


def _link_tree(src: Path, dest: Path) -> int:
    """Hard-link (or copy) every file of ``src`` into ``dest`` that ``dest`` lacks."""
    added = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d not in _SKIP]
        rel = Path(dirpath).relative_to(src)
        for name in filenames:
            if name.endswith(".lock") or name == "lock":
                continue
            target = dest / rel / name
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(Path(dirpath) / name, target)
            except OSError:
                shutil.copyfile(Path(dirpath) / name, target)
            added += 1
    return added


def complete_origin(
    download: Path = DOWNLOAD, name: str = "prometheus", work: Path = WORK
) -> tuple[Path, dict[str, object]]:
    """The completed origin folder for ``download`` and what completing it took (cached)."""
    dest = work / f"{name}-origin"
    stamp = dest / "complete.json"
    if stamp.is_file():
        return dest, json.loads(stamp.read_text())
    targets = mod_only_versions(download)
    modcache = work / f"{name}-extra"
    print(f"fetching .info and .zip of {len(targets)} go.mod-only versions ...", flush=True)
    results = _go_download(targets, modcache) if targets else []
    failed = {
        str(r.get("Path")) + "@" + str(r.get("Version")): r["Error"]
        for r in results
        if r.get("Error")
    }
    building = Path(tempfile.mkdtemp(prefix=f"{name}-origin.", dir=work))
    copied = _link_tree(download, building)
    added = _link_tree(modcache / "cache" / "download", building) if targets else 0
    summary: dict[str, object] = {
        "go_mod_only_versions": len(targets),
        "completed": len(targets) - len(failed),
        "failed": failed,
        "files_from_project": copied,
        "files_added": added,
    }
    (building / "complete.json").write_text(json.dumps(summary, indent=1) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    building.rename(dest)
    return dest, summary


if __name__ == "__main__":
    folder, info = complete_origin()
    print(json.dumps(info, indent=1))
    print(folder)
