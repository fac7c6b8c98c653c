"""gomodproxy.server."""
