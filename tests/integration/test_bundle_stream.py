"""``bundle import`` streams: a bundle holding a zip far larger than the importer's memory
budget is checked and imported with its peak memory well below the zip's size (the zip goes
through a spool file in the cache's spool folder, never into memory), and a second import keeps
the copies the cache already holds."""

from __future__ import annotations

import asyncio
import io
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gomodproxy.admin.bundlecreate import create_bundle, wanted_from_list
from gomodproxy.assembly import check_settings
from gomodproxy.config import build_settings
from gomodproxy.module.dirhash import hash_go_mod, hash_zip
from tests.origin import running_origin
from tests.proxykit import SynthModule, running_sumdb, synth

_SIZE = 96 << 20
_SMALL = synth("example.com/stream/small", "v1.0.0")

# Runs the command line in a child that reports its own peak memory: VmHWM, KiB (not
# ru_maxrss, which Linux carries over from the forking test process across exec).
_MEASURED = (
    "import sys\n"
    "from gomodproxy.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
    "print(status, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _big_zip(path: str, version: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{path}@{version}/go.mod", f"module {path}\n")
        z.writestr(f"{path}@{version}/data.bin", random.Random(7).randbytes(_SIZE))
    return buf.getvalue()


def _import(bundle: Path, key: str, cache: Path) -> tuple[int, float, str]:
    """``gomodproxy bundle import`` in a child process: exit code, peak memory (MiB), stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOMODPROXY_")}
    argv = ["bundle", "import", str(bundle), "--verifier-key", key, "--cache-dir", str(cache)]
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    peak = int(proc.stderr.strip().splitlines()[-1]) / 1024
    return proc.returncode, peak, proc.stderr


@pytest.mark.slow
@pytest.mark.asyncio
async def test_import_streams_a_large_zip_and_keeps_what_the_cache_holds(tmp_path: Path) -> None:
    path, version = "example.com/stream/big", "v1.0.0"
    data = await asyncio.to_thread(_big_zip, path, version)
    mod = f"module {path}\n".encode()
    big = SynthModule(path, version, {"go.mod": mod})
    rel = f"{path}/@v/{version}"
    record = (
        f"{path} {version} {await asyncio.to_thread(hash_zip, io.BytesIO(data))}\n"
        f"{path} {version}/go.mod {hash_go_mod(mod)}\n"
    ).encode()
    bundle = tmp_path / "big.bundle"
    async with running_origin() as origin, running_sumdb(tmp_path / "db", [_SMALL]) as db:
        await asyncio.to_thread(db.store.append, [record])
        for ext, body in (("info", big.info), ("mod", mod), ("zip", data)):
            origin.serve_file(f"{rel}.{ext}", body)
        for ext in ("info", "mod", "zip"):
            origin.serve_file(_SMALL.rel(ext), getattr(_SMALL, ext))
        values = {
            "upstream": origin.url,
            "sumdb": db.gosumdb,
            "cache-dir": str(tmp_path / "unused"),
            "listen": "127.0.0.1:0",
        }
        settings = build_settings(values, {"HOME": str(tmp_path)}, go_env=lambda names: {})
        wanted = wanted_from_list(f"{path}@{version}\n{_SMALL.path}@{_SMALL.version}\n")
        await create_bundle(check_settings(settings), wanted, bundle)
    del data

    cache = tmp_path / "cache"
    code, peak, err = await asyncio.to_thread(_import, bundle, db.key.verifier_key, cache)
    assert code == 0, err
    stored = cache / f"{rel}.zip"
    assert stored.stat().st_size > _SIZE
    assert (cache / f"{path}/@v/list").read_bytes() == b"v1.0.0\n"
    assert peak < 96, f"peak memory {peak:.0f} MiB importing a bundle with a 96 MiB zip"
    # The spool folder is gone; a second import keeps the stored copies (same files).
    spool = cache / ".gomodproxy" / ".store" / "spool"
    assert not any(spool.iterdir()) if spool.exists() else True
    inode = stored.stat().st_ino
    code, _, err = await asyncio.to_thread(_import, bundle, db.key.verifier_key, cache)
    assert code == 0, err
    assert stored.stat().st_ino == inode
