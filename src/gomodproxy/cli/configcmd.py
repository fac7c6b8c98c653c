"""``gomodproxy config check|show``: the settings ``serve`` would run with, checked or shown.

Both read the ``--config`` file, the ``GOMODPROXY_*`` environment and the same flags as
``serve``, with the same precedence (defaults < file < environment < flags).
``check`` prints ``ok`` (exit 0) or every problem with its file, line and fix on stderr (exit 1);
``show`` prints each effective setting with its source, passwords in URLs masked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from gomodproxy.admin.configcheck import ConfigInput, check_config, show_settings
from gomodproxy.cli.settingflags import add_setting_flags
from gomodproxy.config import OPTIONS

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``config`` subcommand with ``check`` and ``show``."""
    parser = sub.add_parser(
        "config",
        help="check or show the settings serve would use",
        description="Check or show the settings of gomodproxy serve (file, environment, flags).",
    )
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION")
    actions.required = True
    check = actions.add_parser(
        "check",
        help="validate every setting; exit 1 listing each problem with its line and fix",
        description="Validate the settings; print ok, or every problem on stderr and exit 1.",
    )
    _add_inputs(check)
    check.set_defaults(func=_run_check)
    show = actions.add_parser(
        "show",
        help="print the effective settings with their sources (secrets masked)",
        description="Print each effective setting and where it came from "
        "(default, file, env, flag); passwords in URLs are masked.",
    )
    _add_inputs(show)
    show.set_defaults(func=_run_show)


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML file of settings")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    flags = parser.add_argument_group("settings given as flags (as for serve)")
    add_setting_flags(flags)


def _input(args: argparse.Namespace) -> ConfigInput:
    flags = {o.attr: getattr(args, o.attr) for o in OPTIONS}
    return ConfigInput(args.config, dict(os.environ), flags)


def _run_check(args: argparse.Namespace) -> int:
    report = check_config(_input(args))
    if args.json:
        doc = {
            "ok": report.ok,
            "problems": [
                {"where": p.where, "line": p.line, "message": p.message} for p in report.problems
            ],
        }
        print(json.dumps(doc, indent=2))
    elif report.ok:
        print("ok")
    else:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        count = len(report.problems)
        print(f"gomodproxy: {count} problem{'s' * (count != 1)} found", file=sys.stderr)
    return 0 if report.ok else 1


def _run_show(args: argparse.Namespace) -> int:
    given = _input(args)
    report = check_config(given)
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        return 1
    shown = show_settings(given, report)
    if args.json:
        doc = {s.name: {"value": s.value, "source": s.source} for s in shown}
        print(json.dumps(doc, indent=2))
        return 0
    width = max(len(s.name) for s in shown)
    for s in shown:
        print(f"{s.name:<{width}} = {s.value!s:<30} # {s.source}")
    return 0
