"""gomodproxy.module."""
