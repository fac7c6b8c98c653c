"""Upstreams: the GOPROXY chain, the HTTP proxy fetcher and the ``file://`` fetcher."""

from gomodproxy.upstream.base import (
    BodyTooLarge,
    Fetcher,
    UpstreamBody,
    UpstreamLoop,
    UpstreamThrottled,
    read_body,
)
from gomodproxy.upstream.chain import (
    DIRECT_NOT_SUPPORTED,
    Fetched,
    OpenedBody,
    UpstreamChain,
    UpstreamObserver,
    build_chain,
)
from gomodproxy.upstream.fileclient import FileFetcher
from gomodproxy.upstream.netrc import NetrcCredentials, load_netrc, netrc_path, parse_netrc
from gomodproxy.upstream.proxyclient import FetchPolicy, HTTPFetcher, mask_url, path_escape

__all__ = [
    "DIRECT_NOT_SUPPORTED",
    "BodyTooLarge",
    "FetchPolicy",
    "Fetched",
    "Fetcher",
    "FileFetcher",
    "HTTPFetcher",
    "NetrcCredentials",
    "OpenedBody",
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
