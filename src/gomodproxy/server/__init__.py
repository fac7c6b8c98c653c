"""The proxy's HTTP face: the aiohttp app, routes, error middleware, metrics and relay."""

from gomodproxy.server.app import METRICS_KEY, SERVICE_KEY, Plan, check_settings, make_app
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.server.requestpath import (
    BadRequestPath,
    ModuleRequest,
    SumDBRequest,
    parse_request_path,
)
from gomodproxy.server.routes import ProxyRoutes
from gomodproxy.server.sumdbrelay import PrivateLookup, SumDBRelay

__all__ = [
    "METRICS_KEY",
    "SERVICE_KEY",
    "BadRequestPath",
    "ModuleRequest",
    "Plan",
    "PrivateLookup",
    "ProxyMetrics",
    "ProxyRoutes",
    "SumDBRelay",
    "SumDBRequest",
    "check_settings",
    "make_app",
    "parse_request_path",
]
