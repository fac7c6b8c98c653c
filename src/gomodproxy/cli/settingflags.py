"""Every setting of ``gomodproxy serve`` as a flag, for the commands that read the same
settings without serving (``config check|show``, ``front nginx``)."""

from __future__ import annotations

import argparse

from gomodproxy.config import OPTIONS

__all__ = ["add_setting_flags"]


def add_setting_flags(group: argparse._ActionsContainer) -> None:
    """Add ``--NAME`` for every serve option to ``group``; unset flags stay ``None`` so the
    file, the variables and the defaults decide (precedence as for serve)."""
    for option in OPTIONS:
        flag = "--" + option.name
        if option.kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif option.kind in (tuple, dict):
            group.add_argument(flag, action="append", default=None, metavar=option.metavar)
        else:
            group.add_argument(flag, default=None, metavar=option.metavar or None)
