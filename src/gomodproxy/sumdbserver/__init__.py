"""Our own checksum database server: an append-only, signed transparency log of go.sum lines.

It speaks the protocol of sum.golang.org (``/latest``, ``/lookup/M@V``, ``/tile/8/...``) so the
go command and our client can verify modules against it (``GOSUMDB='<verifier key> <url>'``).
"""

from __future__ import annotations

from gomodproxy.sumdbserver.app import Stats, make_app
from gomodproxy.sumdbserver.feed import ModuleSums, ProxySource, sums_from_cache, sums_from_go_sum
from gomodproxy.sumdbserver.keys import ServerKey, load_signer_file, server_key, write_key_files
from gomodproxy.sumdbserver.logstore import TILE_HEIGHT, LogStore, RecordKey, record_key
from gomodproxy.sumdbserver.runner import ServeSettings, serve

__all__ = [
    "TILE_HEIGHT",
    "LogStore",
    "ModuleSums",
    "ProxySource",
    "RecordKey",
    "ServeSettings",
    "ServerKey",
    "Stats",
    "load_signer_file",
    "make_app",
    "record_key",
    "serve",
    "server_key",
    "sums_from_cache",
    "sums_from_go_sum",
    "write_key_files",
]
