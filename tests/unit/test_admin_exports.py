"""Pin the public names of ``gomodproxy.admin``."""

from __future__ import annotations

import gomodproxy.admin


def test_admin_exports_are_pinned_and_documented() -> None:
    assert sorted(gomodproxy.admin.__all__) == [
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
    for name in gomodproxy.admin.__all__:
        assert getattr(gomodproxy.admin, name).__doc__, name
