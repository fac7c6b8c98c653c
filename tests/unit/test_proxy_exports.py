"""Pin the public names of the proxy's packages: present, documented, nothing public left out."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

PACKAGES = [
    "gomodproxy.protocol",
    "gomodproxy.storage",
    "gomodproxy.upstream",
    "gomodproxy.cache",
    "gomodproxy.server",
]


def _package(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_exists_and_is_documented(name: str) -> None:
    package = _package(name)
    assert package.__all__ == sorted(package.__all__, key=lambda n: (not n.isupper(), n))
    for export in package.__all__:
        member = getattr(package, export)
        if isinstance(member, type) or callable(member):
            assert member.__doc__, f"{name}.{export} has no docstring"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_class_of_the_package_is_exported(name: str) -> None:
    package = _package(name)
    public = {
        n
        for n in dir(package)
        if not n.startswith("_")
        and isinstance(getattr(package, n), type)
        and getattr(package, n).__module__.startswith(name)
    }
    assert public <= set(package.__all__)
