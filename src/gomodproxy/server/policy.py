"""The ``--rules`` policy at the door: a denied module, or a denied or not-allowed version, is
answered 403 with the rule's reason before anything is fetched; lists leave such versions out,
and ``@latest`` or a query resolving to one is refused. Routing (``direct``/``upstream``) is
the upstream chain's business (:mod:`gomodproxy.upstream.chain`). The rules are read from
:class:`~gomodproxy.module.policy.PolicyHolder` at every request, so a reload takes effect at
once.
"""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gomodproxy.errors import ProxyError
from gomodproxy.module.policy import PolicyHolder, Rule
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import ModuleRequest, is_canonical_version, parse_request_path
from gomodproxy.webtext import text_response

__all__ = ["policy_middleware"]


def _forbidden(path: str, what: str, rule: Rule) -> web.Response:
    reason = f": {rule.reason}" if rule.reason else ""
    return text_response(
        f"forbidden by the rules: {what}{reason}\n", status=403, cache_control="no-store"
    )


def policy_middleware(holder: PolicyHolder, *, prefix: str = "") -> Middleware:
    """The middleware applying the rules in ``holder`` (see the module docstring)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            target = parse_request_path(request.path, prefix=prefix)
        except ProxyError:
            return await handler(request)
        if not isinstance(target, ModuleRequest):
            return await handler(request)
        rule = holder.current.rule_for(target.path)
        if rule is None:
            return await handler(request)
        if rule.action == "deny":
            return _forbidden(target.path, target.path, rule)
        if target.version and is_canonical_version(target.version):
            if rule.version_refused(target.version):
                return _forbidden(target.path, f"{target.path}@{target.version}", rule)
            return await handler(request)
        response = await handler(request)
        if response.status != 200 or not isinstance(response, web.Response):
            return response
        body = response.body
        if not isinstance(body, bytes):
            return response
        if target.kind is FileKind.LIST:
            kept = [
                line
                for line in body.decode("utf-8", "replace").splitlines()
                if line.strip() and not rule.version_refused(line.split()[0])
            ]
            response.body = "".join(line + "\n" for line in kept).encode()
            return response
        try:
            version = json.loads(body).get("Version", "")
        except (ValueError, AttributeError):
            return response
        if isinstance(version, str) and version and rule.version_refused(version):
            return _forbidden(target.path, f"{target.path}@{version}", rule)
        return response

    return middleware
