"""One module zip being fetched into a spool file, readable by many clients while it grows.

The producer appends upstream bytes to the spool file; readers follow it with positional reads,
so memory does not grow with the zip and a slow reader never slows the fetch. Until the whole
zip is verified, the last ``holdback`` bytes are kept from readers: a zip that fails the checks
(truncated, tampered, not a zip) is therefore never delivered whole, and the server cuts the
connection instead of ending the body (fault catalogue B17, B22).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from gomodproxy.errors import StorageFull
from gomodproxy.storage.base import HashedFile, ObjectInfo
from gomodproxy.storage.fswrite import create_held

__all__ = ["ZipFlight", "ZipReader"]

_CHUNK = 256 * 1024


class _State(enum.Enum):
    FETCHING = "fetching"
    DONE = "done"
    FAILED = "failed"


class ZipFlight:
    """The shared state of one zip fetch (see the module docstring)."""

    def __init__(self, key: str, spool: Path, *, holdback: int) -> None:
        self.key = key
        self.spool = spool
        self.holdback = holdback
        self.content_length: int | None = None
        self.upstream = ""
        self.written = 0
        # The SHA-256 of what was spooled, computed as it is written (in the writing thread),
        # so storing the spool file needs no second read of it.
        self._sha256 = hashlib.sha256()
        self.stored: ObjectInfo | None = None
        self.error: BaseException | None = None
        self._state = _State.FETCHING
        self._started = asyncio.Event()
        self._progress = asyncio.Event()
        self._fd: int | None = None
        self._readers = 0
        self._closed = False

    # -- producer side ----------------------------------------------------------------------

    async def create_spool(self) -> None:
        """Create the spool file (in a thread: no blocking file calls on the loop)."""
        try:
            self._fd = await asyncio.to_thread(_create, self.spool)
        except OSError as exc:
            self._raise_if_full(exc)
            raise

    def begin(self, content_length: int | None, upstream: str) -> None:
        """The upstream answered 200: readers may start once the first bytes are spooled
        (so a spool that cannot be written, a full disk, is still an error status)."""
        self.content_length = content_length
        self.upstream = upstream

    async def append(self, chunk: bytes) -> None:
        """Write the next chunk at the end of the spool file."""
        assert self._fd is not None, "create_spool() first"
        try:
            await asyncio.to_thread(_pwrite_hashed, self._fd, chunk, self.written, self._sha256)
        except OSError as exc:
            self._raise_if_full(exc)
            raise
        self.written += len(chunk)
        self._started.set()
        self._notify()

    def spooled(self) -> HashedFile:
        """The spool file, with the size and SHA-256 of what was written to it."""
        return HashedFile(self.spool, self.written, self._sha256.hexdigest())

    def finish(self, stored: ObjectInfo) -> None:
        """The zip was verified and stored (or another process had stored it)."""
        self.stored = stored
        self._state = _State.DONE
        self._started.set()
        self._notify()
        self._maybe_close()

    def fail(self, error: BaseException) -> None:
        """The fetch failed: readers raise ``error``; the spool file is removed."""
        self.error = error
        self._state = _State.FAILED
        self._started.set()
        self._notify()
        # Off the event loop; nothing waits for it (readers hold the descriptor, not the name).
        asyncio.get_running_loop().run_in_executor(None, _remove, self.spool)
        self._maybe_close()

    def _raise_if_full(self, exc: OSError) -> None:
        full = StorageFull.from_os_error(exc, f"the download of {self.key}")
        if full is not None:
            raise full from exc

    # -- reader side ------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once verified and stored."""
        return self._state is _State.DONE

    @property
    def failed(self) -> bool:
        """True once the fetch failed."""
        return self._state is _State.FAILED

    async def wait_started(self) -> None:
        """Wait until the body starts flowing, or the fetch ended."""
        await self._started.wait()

    async def wait_finished(self) -> None:
        """Wait until the fetch ended either way."""
        while self._state is _State.FETCHING:
            await self._progress_event().wait()

    def open_reader(self) -> ZipReader:
        """Register a reader now; it keeps the spool readable until closed.

        Registration is synchronous so that nothing between the service handing out the
        flight and the server starting to read can let the spool close under the reader.
        """
        if self._closed:
            raise RuntimeError("the spool of this flight is closed; read from storage")
        self._readers += 1
        return ZipReader(self)

    async def _read(self) -> AsyncIterator[bytes]:
        pos = 0
        while True:
            event = self._progress_event()
            if self._state is _State.FAILED:
                assert self.error is not None
                raise self.error
            limit = self.written
            if self._state is _State.FETCHING:
                limit = max(0, self.written - self.holdback)
            if pos < limit:
                size = min(_CHUNK, limit - pos)
                assert self._fd is not None
                chunk = await asyncio.to_thread(os.pread, self._fd, size, pos)
                if not chunk:
                    raise OSError(f"spool file of {self.key} shrank while being read")
                pos += len(chunk)
                yield chunk
                continue
            if self._state is _State.DONE:
                return
            await event.wait()

    def _release(self) -> None:
        self._readers -= 1
        self._maybe_close()

    # -- internals --------------------------------------------------------------------------

    def _progress_event(self) -> asyncio.Event:
        return self._progress

    def _notify(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    def _maybe_close(self) -> None:
        if self._state is not _State.FETCHING and self._readers == 0 and not self._closed:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)


def _remove(spool: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        spool.unlink()


def _create(spool: Path) -> int:
    spool.parent.mkdir(parents=True, exist_ok=True)
    # Held while this process has it open: the orphan sweep leaves it alone.
    return create_held(spool)


def _pwrite_hashed(fd: int, data: bytes, offset: int, digest: hashlib._Hash) -> None:
    _pwrite_all(fd, data, offset)
    digest.update(data)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


class ZipReader:
    """One client's view of a :class:`ZipFlight`; close it (or use ``async with``) when done."""

    def __init__(self, flight: ZipFlight) -> None:
        self._flight = flight
        self._open = True

    @property
    def flight(self) -> ZipFlight:
        """The flight being read."""
        return self._flight

    def chunks(self) -> AsyncIterator[bytes]:
        """The zip's bytes as they become safe to send; raises the fetch's error if it fails."""
        return self._flight._read()

    def close(self) -> None:
        """Stop reading (idempotent)."""
        if self._open:
            self._open = False
            self._flight._release()

    async def __aenter__(self) -> ZipReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
