"""gomodproxy.client."""
