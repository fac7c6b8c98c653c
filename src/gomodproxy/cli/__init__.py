"""gomodproxy.cli."""
