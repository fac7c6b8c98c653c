"""The store's background maintenance: leftovers of dead writers removed, at start and then
periodically, so a crashed worker or another process sharing the folder never leaks disk."""

from __future__ import annotations

import asyncio
import logging

from gomodproxy.storage.base import ObjectStore

__all__ = ["SWEEP_SECONDS", "sweep_forever"]

logger = logging.getLogger(__name__)

#: How often leftovers are looked for (a directory scan or two).
SWEEP_SECONDS = 300.0


async def sweep_forever(store: ObjectStore, interval: float = SWEEP_SECONDS) -> None:
    """Sweep ``store`` now (everywhere older versions left files, once) and then every
    ``interval`` seconds, until cancelled."""
    everywhere = True
    while True:
        try:
            await asyncio.to_thread(store.sweep_orphans, everywhere=everywhere)
        except Exception:
            logger.exception("storage.sweep_failed")
        everywhere = False
        await asyncio.sleep(interval)
