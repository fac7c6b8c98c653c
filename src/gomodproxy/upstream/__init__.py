"""Upstreams: the GOPROXY chain of per-module fetchers (proxies over HTTP or ``file://``, and
``direct``)."""

from gomodproxy.upstream.base import (
    BodyTooLarge,
    Fetcher,
    UpstreamBody,
    UpstreamLoop,
    UpstreamThrottled,
    read_body,
)
from gomodproxy.upstream.chain import (
    Fetched,
    OpenedBody,
    UpstreamChain,
    UpstreamObserver,
    build_chain,
)
from gomodproxy.upstream.fileclient import FileFetcher
from gomodproxy.upstream.modulefetch import (
    DIRECT_NOT_SUPPORTED,
    DirectFetcher,
    ModuleFetcher,
    ProxyFetcher,
)
from gomodproxy.upstream.netrc import NetrcCredentials, load_netrc, netrc_path, parse_netrc
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher, mask_url, path_escape

__all__ = [
    "DIRECT_NOT_SUPPORTED",
    "BodyTooLarge",
    "DirectFetcher",
    "FetchPolicy",
    "Fetched",
    "Fetcher",
    "FileFetcher",
    "HTTPFetcher",
    "ModuleFetcher",
    "NetrcCredentials",
    "OpenedBody",
    "ProxyFetcher",
    "UpstreamBody",
    "UpstreamChain",
    "UpstreamLoop",
    "UpstreamObserver",
    "UpstreamThrottled",
    "build_chain",
    "load_netrc",
    "mask_url",
    "netrc_path",
    "parse_netrc",
    "path_escape",
    "read_body",
]
