"""The proxy's HTTP face: the aiohttp app, routes, error middleware, metrics and relay."""

from gomodproxy.server.app import METRICS_KEY, SERVICE_KEY, make_app
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.server.routes import ProxyRoutes
from gomodproxy.server.sumdbrelay import PrivateLookup, SumDBRelay

__all__ = [
    "METRICS_KEY",
    "SERVICE_KEY",
    "PrivateLookup",
    "ProxyMetrics",
    "ProxyRoutes",
    "SumDBRelay",
    "make_app",
]
