"""The relay's brief answers (``latest``, partial tiles) while the checksum database is away.

The relay runs over our real checksum database on 127.0.0.1 through the proxy's own HTTP
fetcher; the clock is the relay's seam, so "ten seconds later" needs no sleep.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from gomodproxy.errors import UpstreamError
from gomodproxy.server.sumdbrelay import SumDBRelay
from gomodproxy.storage import MemoryStorage
from gomodproxy.sumdb.fetch import SumDBHTTPFetcher
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher
from tests.proxykit import running_sumdb, synth

MODULES = [synth(f"example.com/m{i}", "v1.0.0", files={"go.mod": b"module m\n"}) for i in range(5)]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_brief_answers_are_served_stale_while_the_database_is_unreachable(
    tmp_path: Path,
) -> None:
    clock = _Clock()
    async with aiohttp.ClientSession() as session:
        async with running_sumdb(tmp_path / "db", MODULES) as db:
            fetcher = HTTPFetcher(db.url, session, policy=FetchPolicy(retries=0, deadline=5))
            relay = SumDBRelay({db.name: SumDBHTTPFetcher(fetcher)}, MemoryStorage(), clock=clock)
            latest = await relay.answer(f"{db.name}/latest")
            tile = await relay.answer(f"{db.name}/tile/8/0/000.p/5")
            assert latest.body.startswith(b"go.sum database tree\n5\n")
            assert len(tile.body) == 5 * 32
            served = db.stats.latest
        # The database is gone. Within the short lifetime, from memory:
        assert (await relay.answer(f"{db.name}/latest")).body == latest.body
        assert db.stats.latest == served
        # Past it, the refresh fails, and the last good answer is served rather than an error.
        clock.now += 3600
        assert (await relay.answer(f"{db.name}/latest")).body == latest.body
        assert (await relay.answer(f"{db.name}/tile/8/0/000.p/5")).body == tile.body
        # An answer never fetched has nothing to fall back on: the error reaches the client.
        with pytest.raises(UpstreamError):
            await relay.answer(f"{db.name}/tile/8/0/000.p/4")
