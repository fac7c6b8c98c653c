"""The module service: storage, upstreams, validation and verification behind one API."""

from gomodproxy.cache.events import CacheObserver, NullObserver
from gomodproxy.cache.service import (
    ChecksumPolicy,
    ChecksumVerifier,
    ModuleService,
    ServiceOptions,
    StoredZip,
    StreamingZip,
    ZipSource,
)
from gomodproxy.cache.zipflight import ZipFlight, ZipReader

__all__ = [
    "CacheObserver",
    "ChecksumPolicy",
    "ChecksumVerifier",
    "ModuleService",
    "NullObserver",
    "ServiceOptions",
    "StoredZip",
    "StreamingZip",
    "ZipFlight",
    "ZipReader",
    "ZipSource",
]
