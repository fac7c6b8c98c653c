"""Operator tools over the same seams as the server: checking and showing the settings
(:mod:`~gomodproxy.admin.configcheck`), auditing the cache (:mod:`~gomodproxy.admin.cacheaudit`),
removing a version for good (:mod:`~gomodproxy.admin.cacheremove`) with its audit log
(:mod:`~gomodproxy.admin.auditlog`).
"""

from gomodproxy.admin.auditlog import AuditEntry, append_audit, read_audit
from gomodproxy.admin.cacheaudit import (
    CachedVersion,
    VerifyFailure,
    VerifyReport,
    list_versions,
    verify_store,
)
from gomodproxy.admin.cacheremove import Removal, parse_target, remove_from_cache
from gomodproxy.admin.configcheck import (
    ConfigInput,
    ConfigReport,
    Problem,
    ShownSetting,
    check_config,
    mask_secrets,
    show_settings,
)

__all__ = [
    "AuditEntry",
    "CachedVersion",
    "ConfigInput",
    "ConfigReport",
    "Problem",
    "Removal",
    "ShownSetting",
    "VerifyFailure",
    "VerifyReport",
    "append_audit",
    "check_config",
    "list_versions",
    "mask_secrets",
    "parse_target",
    "read_audit",
    "remove_from_cache",
    "show_settings",
    "verify_store",
]
