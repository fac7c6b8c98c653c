"""The root page (``/``, and the path prefix itself): what this server is and how to use it.

Someone who opens the proxy's address in a browser (or with curl) learns that it is a Go module
proxy, the ``GOPROXY`` value that points the go command at it, and where the status page is.
Rendering is pure: :func:`render_home` takes the values.
"""

from __future__ import annotations

import html

from gomodproxy import __version__

__all__ = ["render_home"]


def render_home(goproxy_url: str, *, status_path: str | None) -> str:
    """The page's HTML; ``goproxy_url`` is this proxy's GOPROXY URL (path prefix included)."""
    url = html.escape(goproxy_url)
    status = (
        f'<p>Status page: <a href="{html.escape(status_path)}">{html.escape(status_path)}</a></p>\n'
        if status_path
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>gomodproxy</title></head>'
        "<body>\n<h1>gomodproxy</h1>\n"
        f"<p>This is gomodproxy {html.escape(__version__)}, a caching Go module proxy: it "
        "answers the GOPROXY protocol from its cache, filled from its upstream proxies, and "
        "verifies every module against the checksum database before caching it.</p>\n"
        "<p>To use it, point the go command at it:</p>\n"
        f"<pre>export GOPROXY={url}\ngo mod download</pre>\n"
        f"{status}</body></html>\n"
    )
