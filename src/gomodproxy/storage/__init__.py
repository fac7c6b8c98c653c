"""gomodproxy.storage."""
