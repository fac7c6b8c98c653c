"""Pin the public names of the package root, like httpx's test_exported_members."""

from __future__ import annotations

import gomodproxy


def test_all_names_are_exported_and_documented() -> None:
    for name in gomodproxy.__all__:
        assert hasattr(gomodproxy, name), name
        member = getattr(gomodproxy, name)
        if not isinstance(member, str):
            assert member.__doc__, f"{name} has no docstring"


def test_every_public_error_is_in_all() -> None:
    public = {
        name
        for name in dir(gomodproxy)
        if not name.startswith("_") and isinstance(getattr(gomodproxy, name), type)
    }
    assert public <= set(gomodproxy.__all__)


def test_error_tree_has_one_root() -> None:
    for name in gomodproxy.__all__:
        member = getattr(gomodproxy, name)
        if isinstance(member, type) and issubclass(member, Exception):
            assert issubclass(member, gomodproxy.ProxyError), name
