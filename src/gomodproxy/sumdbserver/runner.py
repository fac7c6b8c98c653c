"""Running our checksum database server: open the log, feed it, serve it until told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gomodproxy.errors import ConfigError
from gomodproxy.sumdbserver.app import make_app
from gomodproxy.sumdbserver.feed import ModuleSums, sums_from_cache, sums_from_go_sum
from gomodproxy.sumdbserver.keys import load_signer_file
from gomodproxy.sumdbserver.logstore import LogStore

__all__ = ["ServeSettings", "serve"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """Everything ``gomodproxy sumdb serve`` needs."""

    key_file: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8081
    from_cache: tuple[Path, ...] = ()
    from_list: tuple[Path, ...] = ()
    from_proxy: str | None = None


def _read_feeds(settings: ServeSettings) -> list[ModuleSums]:
    """The records of the start-up feeds (blocking)."""
    sums: list[ModuleSums] = []
    for list_file in settings.from_list:
        try:
            data = list_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read --from-list {list_file}: {exc}") from exc
        sums.extend(sums_from_go_sum(data, source=str(list_file)))
    for cache in settings.from_cache:
        if not cache.is_dir():
            raise ConfigError(f"--from-cache {cache} is not a folder")
        sums.extend(sums_from_cache(cache))
    return sums


async def serve(
    settings: ServeSettings,
    *,
    ready: Callable[[str, str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Open and feed the log, serve it, and return once ``stop`` is set (or SIGINT/SIGTERM).

    ``ready(url, verifier_key)`` is called once the socket listens.
    """
    key = await asyncio.to_thread(load_signer_file, settings.key_file)
    store = await asyncio.to_thread(LogStore.open, settings.data_dir, key.signer, key.verifier)
    try:
        sums = await asyncio.to_thread(_read_feeds, settings)
        if sums:
            await asyncio.to_thread(store.append, [s.record_text() for s in sums])
        app = make_app(store, from_proxy=settings.from_proxy)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.host, settings.port)
            await site.start()
            host, port = runner.addresses[0][:2]
            url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
            logger.info("sumdb.serve name=%s url=%s tree_size=%d", key.name, url, store.size)
            if ready is not None:
                ready(url, key.verifier_key)
            await _wait_for_stop(stop)
        finally:
            await runner.cleanup()
    finally:
        store.close()


async def _wait_for_stop(stop: asyncio.Event | None) -> None:
    event = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if stop is None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, event.set)
            installed.append(sig)
    try:
        await event.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
