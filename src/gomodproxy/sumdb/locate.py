"""Where a checksum database is read from when GOSUMDB names no URL (cmd/go ``initBase``).

Following cmd/go/internal/modfetch/sumdb.go, the first time something must be fetched the
GOPROXY list is walked, asking each proxy for ``<proxy>/sumdb/<name>/supported``:

* 200 means that proxy serves every database path from then on (never falling back to the
  database itself);
* 404/410, or any error after an entry followed by ``|``, moves to the next entry;
* ``noproxy`` is skipped; ``direct``, ``off`` or the end of the list (after only not-found
  answers) means ``https://<name>``;
* any other error means the database is unavailable (fault catalogue item 55): never a silent
  switch to another source.

The walk does no I/O of its own: the caller's ``probe(proxy_url, path)`` asks one proxy for
one path and raises
:class:`~gomodproxy.errors.ModuleNotFound` for 404/410 or another
:class:`~gomodproxy.errors.ProxyError` for a failure. URLs are joined as Go's ``web.Join`` does,
so the bytes on the wire match the go command's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from gomodproxy.errors import ModuleNotFound, ProxyError, SumDBError
from gomodproxy.module.goproxy import DIRECT, NOPROXY, OFF, ProxyList
from gomodproxy.module.gourl import parse_url
from gomodproxy.sumdb.gosumdb import SumDBConfig

__all__ = ["join_url", "locate_database"]

Probe = Callable[[str, str], Awaitable[None]]


def join_url(base: str, path: str) -> str:
    """``base`` with ``path`` appended, spelled exactly as cmd/go's ``web.Join`` + ``String``."""
    u = parse_url(base)
    rest = path.removeprefix("/")
    joined = replace(
        u,
        path=u.path.removesuffix("/") + "/" + rest,
        raw_path=u.raw_path.removesuffix("/") + "/" + rest,
    )
    return str(joined)


async def locate_database(config: SumDBConfig, proxies: ProxyList, probe: Probe) -> str:
    """The base URL of ``config``'s database: its GOSUMDB URL, a proxy's, or ``https://name``.

    Raises :class:`~gomodproxy.errors.SumDBError` (chained to the proxy's error) when a proxy
    fails and the list gives no way past it.
    """
    if config.url is not None:
        return config.url
    direct = config.direct_url
    supported = f"sumdb/{config.name}/supported"
    # TryProxies reports the most relevant error: a proxy failure beats a not-found.
    best: ProxyError | None = None
    best_is_not_found = True
    for entry in proxies:
        if entry.url == NOPROXY:
            continue
        if entry.url in (DIRECT, OFF):
            return direct
        try:
            await probe(entry.url, supported)
        except ModuleNotFound as exc:
            if best_is_not_found:
                best = exc
            continue
        except ProxyError as exc:
            best, best_is_not_found = exc, False
            if entry.fallback_on_any_error:
                continue
            break
        return join_url(entry.url, f"sumdb/{config.name}")
    if best is None or best_is_not_found:
        return direct
    raise SumDBError(
        f"checksum database {config.name} unavailable: {best}; "
        "check GOPROXY, or name the database URL in GOSUMDB"
    ) from best
