"""The filesystem backend under SIGKILL (fault catalogue I82, I83): a write killed at any step
leaves the previous object or the new one whole, never loses the previous one, and leaks no disk
once the orphan sweep has run.

Each crash is real: a child process does the write and sends itself SIGKILL at a chosen step
(every call of the backend's file primitives is a step), then this process opens the folder as a
restarted proxy would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gomodproxy.storage import FilesystemStorage

KEY = "example.com/m/@v/v1.0.0.zip"
OLD = b"old" * 1000
NEW_SIZE = 8 << 20

# Writes OLD, then puts an 8 MiB spool file (as the proxy does with a downloaded zip) over it,
# killing itself at step argv[2] of the second write; exit 0 when the write completed.
_CRASHER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from gomodproxy.storage import filesystem, fswrite

    KEY = "example.com/m/@v/v1.0.0.zip"
    NEW_SIZE = int(sys.argv[3])
    kill_at = int(sys.argv[2])
    step = 0

    def tick() -> None:
        global step
        step += 1
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def counted(fn):
        def wrapper(*args, **kwargs):
            tick()
            result = fn(*args, **kwargs)
            tick()
            return result
        return wrapper

    async def main() -> None:
        fs = filesystem.FilesystemStorage(Path(sys.argv[1]))
        await fs.put(KEY, b"old" * 1000)
        spool = fs.spool_dir / "download.zip"
        spool.parent.mkdir(parents=True, exist_ok=True)
        fd = fswrite.create_held(spool)
        os.write(fd, bytes(range(256)) * (NEW_SIZE // 256))
        for module in (filesystem, fswrite):
            for name in ("materialize", "write_file_atomic", "replace", "fsync_dir",
                         "create_held", "hold"):
                if hasattr(module, name):
                    setattr(module, name, counted(getattr(module, name)))
        await fs.put(KEY, spool)
        os.close(fd)
        print("steps", step)

    asyncio.run(main())
    """
)

_NEW = bytes(range(256)) * (NEW_SIZE // 256)


def _crash_at(root: Path, step: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CRASHER, str(root), str(step), str(NEW_SIZE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _leftover_bytes(root: Path) -> int:
    """Bytes on disk other than the object itself and small bookkeeping (records, locks)."""
    data = root / KEY
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and path != data:
            total += path.stat().st_size
    return total


@pytest.mark.slow
@pytest.mark.asyncio
async def test_i82_a_replace_killed_at_each_step_keeps_old_or_new_and_leaks_nothing(
    tmp_path: Path,
) -> None:
    steps_done = None
    leaked_before_sweep = []
    for step in range(1, 200):
        root = tmp_path / f"crash-{step}"
        proc = await asyncio.to_thread(_crash_at, root, step)
        if proc.returncode == 0:
            steps_done = int(proc.stdout.split()[-1])
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        fs = FilesystemStorage(root)
        data = await fs.get(KEY)
        assert data in (OLD, _NEW), f"step {step}: {len(data)} bytes of neither version"
        assert await fs.stat(KEY) is not None
        leaked_before_sweep.append(_leftover_bytes(root))
        await asyncio.to_thread(fs.sweep_orphans, everywhere=True, grace=0)
        assert _leftover_bytes(root) < 16 << 10, f"step {step}: disk leaked after the sweep"
        # The object read after the sweep is still the one read before it.
        assert await FilesystemStorage(root).get(KEY) == data
    assert steps_done is not None, "the write was never completed"
    assert steps_done > 10
    # The crashes really left the big temporary behind (the sweep is what removed it).
    assert max(leaked_before_sweep) >= NEW_SIZE


@pytest.mark.asyncio
async def test_i82_a_write_killed_before_its_data_rename_keeps_the_previous_object(
    tmp_path: Path,
) -> None:
    fs = FilesystemStorage(tmp_path)
    await fs.put("example.com/m/@v/list", b"v1.0.0\n")
    # The next writer recorded its new content and died before renaming its data into place.
    meta = tmp_path / ".gomodproxy/.store/meta/example.com/m/@v/list.json"
    doc = json.loads(meta.read_text())
    doc.update(size=14, sha256=hashlib.sha256(b"v1.0.0\nv1.1.0\n").hexdigest(), ino=1)
    meta.with_name("list.json.next").write_text(json.dumps(doc))
    assert await FilesystemStorage(tmp_path).get("example.com/m/@v/list") == b"v1.0.0\n"
    assert await fs.list("example.com/") == ["example.com/m/@v/list"]


@pytest.mark.asyncio
async def test_i82_a_write_killed_after_its_data_rename_serves_the_new_object(
    tmp_path: Path,
) -> None:
    fs = FilesystemStorage(tmp_path)
    await fs.put("example.com/m/@v/list", b"v1.0.0\n")
    # The writer renamed its data into place and died before promoting its record.
    data = tmp_path / "example.com/m/@v/list"
    meta = tmp_path / ".gomodproxy/.store/meta/example.com/m/@v/list.json"
    old_doc = json.loads(meta.read_text())
    new_body = b"v1.0.0\nv1.1.0\n"
    tmp = data.with_name(".list.new")
    tmp.write_bytes(new_body)
    doc = dict(old_doc, size=len(new_body), sha256=hashlib.sha256(new_body).hexdigest())
    doc["ino"] = tmp.stat().st_ino
    meta.with_name("list.json.next").write_text(json.dumps(doc))
    os.replace(tmp, data)
    fresh = FilesystemStorage(tmp_path)
    assert await fresh.get("example.com/m/@v/list") == new_body
    # The reader promoted the record: the next reader finds it in force.
    assert json.loads(meta.read_text())["ino"] == data.stat().st_ino
    assert not meta.with_name("list.json.next").exists()


@pytest.mark.asyncio
async def test_i82_a_write_in_progress_in_another_process_keeps_its_temporary_file(
    tmp_path: Path,
) -> None:
    fs = FilesystemStorage(tmp_path)
    fs.temp_dir.mkdir(parents=True)
    held = tmp_path / ".gomodproxy/.store/tmp/abc.tmp"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from pathlib import Path; from gomodproxy.storage import fswrite;"
        "fswrite.create_held(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()",
        str(held),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"
    assert await asyncio.to_thread(fs.sweep_orphans, grace=0) == (0, 0)
    assert held.exists()
    holder.stdin.close()
    await holder.wait()
    assert (await asyncio.to_thread(fs.sweep_orphans, grace=0))[0] == 1
    assert not held.exists()


_WRITER = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from gomodproxy.storage import FilesystemStorage

    async def main() -> None:
        fs = FilesystemStorage(Path(sys.argv[1]))
        i = 0
        while True:
            body = bytes([i % 251]) * (1 << 20)
            await fs.put("example.com/m/@v/v1.0.%d.zip" % (i % 4), body)
            await fs.put("example.com/m/@v/list", ("%d\\n" % i).encode() * (i % 50 + 1))
            if i == 3:
                print("running", flush=True)
            i += 1

    asyncio.run(main())
    """
)


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("delay", [0.05, 0.13, 0.31])
async def test_i82_sigkill_mid_write_leaves_each_object_whole_or_absent(
    tmp_path: Path, delay: float
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, str(tmp_path), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"running\n"
    await asyncio.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    fs = FilesystemStorage(tmp_path)
    keys = await fs.list("example.com/")
    # Every key written at least once survives: a replace never loses the previous object.
    assert keys == sorted(
        [*(f"example.com/m/@v/v1.0.{i}.zip" for i in range(4)), "example.com/m/@v/list"]
    )
    for key in keys:
        data = await fs.get(key)
        if key.endswith(".zip"):
            assert len(data) == 1 << 20
            assert data == data[:1] * len(data)
        else:
            lines = data.splitlines()
            assert lines
            assert len(set(lines)) == 1
            assert len(lines) == int(lines[0]) % 50 + 1
    await asyncio.to_thread(fs.sweep_orphans, everywhere=True, grace=0)
    assert not list((tmp_path / ".gomodproxy/.store/tmp").iterdir())
