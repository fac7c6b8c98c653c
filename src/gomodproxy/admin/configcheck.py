"""What ``gomodproxy config check`` and ``config show`` compute: every problem of a settings file
and environment, and the effective settings with the source of each.

The settings are built by :func:`~gomodproxy.config.build_settings` and cross-checked by
:func:`~gomodproxy.assembly.check_settings`, exactly as ``serve`` builds them. Those raise at the
first problem; to report every one, the failing value is recorded and left out, and the build is
tried again with the rest (a problem that needs the left-out value cannot show up until it is
fixed). A problem found in the file carries the line of its key.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gomodproxy.assembly import check_settings, with_defaults
from gomodproxy.config import OPTIONS, Option, Settings, build_settings, env_name, read_go_env
from gomodproxy.errors import ConfigError

__all__ = [
    "ConfigInput",
    "ConfigReport",
    "Problem",
    "ShownSetting",
    "check_config",
    "mask_secrets",
    "show_settings",
]

_BY_NAME = {o.name: o for o in OPTIONS}
_FLAG = re.compile(r"--([a-z0-9][a-z0-9-]*)")
_TOML_LINE = re.compile(r"at line (\d+)")
_CREDENTIALS = re.compile(r"(://[^/@:\s,|]*):[^/@\s,|]*@")
#: Options whose value, when left unset, comes from the Go environment.
_FROM_GO = {
    "upstream": "GOPROXY",
    "sumdb": "GOSUMDB",
    "gonosumdb": "GONOSUMDB",
    "goprivate": "GOPRIVATE",
    "gonoproxy": "GONOPROXY",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: where it is (file, variable or flag), the file line, and the message
    (which names the fix)."""

    where: str
    line: int | None
    message: str

    def __str__(self) -> str:
        place = self.where if self.line is None else f"{self.where}:{self.line}"
        return f"{place}: {self.message}"


@dataclass(frozen=True, slots=True)
class ConfigInput:
    """The inputs of the settings: the file (if any), the environment and the flags given."""

    config_file: Path | None
    environ: Mapping[str, str]
    flags: Mapping[str, object | None] = field(default_factory=dict)
    go_env: Callable[[Sequence[str]], Mapping[str, str]] = read_go_env


@dataclass(frozen=True, slots=True)
class ConfigReport:
    """The outcome of a check: the settings when they are valid, else the problems."""

    settings: Settings | None
    problems: tuple[Problem, ...]
    file_values: Mapping[str, object]
    file_lines: Mapping[str, int | None]

    @property
    def ok(self) -> bool:
        """True when the settings are valid."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class ShownSetting:
    """One effective setting: its value as text (secrets masked) and where it came from."""

    name: str
    value: str
    source: str


def mask_secrets(text: str) -> str:
    """Hide passwords in the URLs of ``text`` (``user:pass@`` becomes ``user:***@``)."""
    return _CREDENTIALS.sub(r"\1:***@", text)


def check_config(given: ConfigInput) -> ConfigReport:
    """Build and check the settings from ``given``, collecting every problem found."""
    where = str(given.config_file) if given.config_file is not None else "config file"
    problems: list[Problem] = []
    file_values: dict[str, object] = {}
    lines: dict[str, int | None] = {}
    if given.config_file is not None:
        read = _read_file(given.config_file)
        if isinstance(read, Problem):
            return ConfigReport(None, (read,), {}, {})
        text, values = read
        for key, raw in values.items():
            lines[key] = _key_line(text, key)
            if key.replace("_", "-") in _BY_NAME:
                file_values[key] = raw
            else:
                problems.append(Problem(where, lines[key], _unknown_key(key)))
    settings = _build_collecting(given, where, file_values, lines, problems)
    if settings is not None:
        try:
            check_settings(with_defaults(settings, given.environ))
        except ConfigError as exc:
            problems.append(_locate(str(exc), given, where, file_values, lines)[0])
    if problems:
        settings = None
    return ConfigReport(settings, tuple(problems), file_values, lines)


def show_settings(given: ConfigInput, report: ConfigReport) -> list[ShownSetting]:
    """The effective settings of a valid ``report`` with the source of each."""
    settings = report.settings
    if settings is None:
        raise ConfigError("the settings are not valid; run `gomodproxy config check`")
    by_option = {k.replace("_", "-"): k for k in report.file_values}
    shown = []
    for option in OPTIONS:
        value = getattr(settings, option.attr)
        text = "" if value is None else str(value).lower() if option.kind is bool else str(value)
        if isinstance(value, tuple):
            sep = os.pathsep if option.item is Path else " "
            text = sep.join(str(v) for v in value)
        source = "default"
        if given.flags.get(option.attr, given.flags.get(option.name)) is not None:
            source = "flag --" + option.name
        elif env_name(option.name) in given.environ:
            source = "env " + env_name(option.name)
        elif option.name in by_option:
            key = by_option[option.name]
            line = report.file_lines.get(key)
            source = f"file {given.config_file}" + (f":{line}" if line else "")
        elif option.name in _FROM_GO and text and text != option.default:
            var = _FROM_GO[option.name]
            source = f"env {var}" if given.environ.get(var) else f"go env {var}"
        shown.append(ShownSetting(option.name, mask_secrets(text), source))
    return shown


def _read_file(path: Path) -> tuple[str, dict[str, object]] | Problem:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Problem(str(path), None, "the file does not exist; check the --config path")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(str(path), None, f"cannot read the file: {exc}")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        return Problem(str(path), line, f"not valid TOML: {exc}; write key = value lines")


def _key_line(text: str, key: str) -> int | None:
    name = rf"""(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')"""
    # ``key = value``, or the header of a table under ``key`` (``[key."host"]``).
    pattern = re.compile(rf"^\s*(?:{name}\s*=|\[\s*{name}\s*[.\]])")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(key.replace("_", "-"), list(_BY_NAME), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "see `gomodproxy serve --help`"
    return f"unknown setting {key!r}: remove it or fix its name ({hint})"


def _build_collecting(
    given: ConfigInput,
    where: str,
    file_values: dict[str, object],
    lines: Mapping[str, int | None],
    problems: list[Problem],
) -> Settings | None:
    """Build the settings; on each problem, record it, drop the value at fault and retry."""
    environ = dict(given.environ)
    flags = dict(given.flags)
    values = dict(file_values)
    for _ in range(len(OPTIONS) * 3 + 1):
        try:
            return build_settings(
                flags, environ, file_values=values, file_name=where, go_env=given.go_env
            )
        except ConfigError as exc:
            problem, fault = _locate(str(exc), given, where, values, lines)
            problems.append(problem)
            if fault is None:
                return None
            kind, name = fault
            if kind == "file":
                del values[name]
            elif kind == "env":
                del environ[name]
            else:
                flags.pop(name, None)
    return None


def _locate(
    message: str,
    given: ConfigInput,
    where: str,
    file_values: Mapping[str, object],
    lines: Mapping[str, int | None],
) -> tuple[Problem, tuple[str, str] | None]:
    """The problem for an error message, and the value at fault as (file|env|flag, key)."""
    for key in file_values:
        if f"{where}: {key}" in message:
            return Problem(where, lines.get(key), message), ("file", key)
    for candidate in OPTIONS:
        var = env_name(candidate.name)
        if re.search(rf"\b{var}\b", message) and var in given.environ:
            return Problem(var, None, message), ("env", var)
    option = _first_option(message)
    if option is None:
        return Problem("settings", None, message), None
    if given.flags.get(option.attr) is not None:
        return Problem("--" + option.name, None, message), ("flag", option.attr)
    var = env_name(option.name)
    if var in given.environ:
        return Problem(var, None, message), ("env", var)
    for key in file_values:
        if key.replace("_", "-") == option.name:
            return Problem(where, lines.get(key), message), ("file", key)
    return Problem("settings", None, message), None


def _first_option(message: str) -> Option | None:
    for found in _FLAG.finditer(message):
        option = _BY_NAME.get(found.group(1))
        if option is not None:
            return option
    return None
