"""Operator tools over the same seams as the server: checking and showing the settings
(:mod:`~gomodproxy.admin.configcheck`) and auditing the cache (:mod:`~gomodproxy.admin.cacheaudit`).
"""

from gomodproxy.admin.cacheaudit import (
    CachedVersion,
    VerifyFailure,
    VerifyReport,
    list_versions,
    verify_store,
)
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
    "CachedVersion",
    "ConfigInput",
    "ConfigReport",
    "Problem",
    "ShownSetting",
    "VerifyFailure",
    "VerifyReport",
    "check_config",
    "list_versions",
    "mask_secrets",
    "show_settings",
    "verify_store",
]
