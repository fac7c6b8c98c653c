"""gomodproxy.probe."""
