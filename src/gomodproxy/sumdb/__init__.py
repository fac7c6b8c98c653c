"""gomodproxy.sumdb."""
