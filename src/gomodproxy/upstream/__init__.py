"""gomodproxy.upstream."""
