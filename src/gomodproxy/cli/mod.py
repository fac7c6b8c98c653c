"""``gomodproxy mod``: hash, build and check module zips from the command line.

* ``mod hash PATH`` prints the bare ``h1:`` hash of a module zip (recognised by its content), of
  a go.mod file (its go.sum ``/go.mod`` hash), or, with ``--module`` and ``--version``, of a
  module directory (the hash of exactly what ``mod zip`` would put in the zip).
* ``mod zip DIR --module M --version V -o FILE`` writes the module zip atomically, with the file
  set and content the go command would use (so the same ``h1:`` hash).
* ``mod check FILE [--module M --version V]`` lists every file as ``valid: F``,
  ``omitted: F: reason`` or ``invalid: F: reason``; the module and version default to the zip's
  ``path@version/`` prefix. A directory is checked like Go's ``CheckDir``.

Exit codes: 0 success (``check``: valid, omissions allowed), 1 refused (``check``: invalid
files or sizes; ``zip``/``hash``: the module breaks a rule), 2 unreadable input or wrong
arguments. Errors go to stderr as ``gomodproxy: ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from gomodproxy.errors import ZipError
from gomodproxy.module.dirhash import hash_go_mod
from gomodproxy.module.zipcheck import CheckedFiles
from gomodproxy.module.zipreader import read_directory
from gomodproxy.modzip.archive import (
    check_zip_file,
    hash_zip_file,
    write_module_zip_from_dir,
)
from gomodproxy.modzip.dirfiles import check_dir, hash_module_dir

__all__ = ["build_mod_parser", "register"]

# Kinds that mean "this is not a zip we can read", as opposed to "a zip that breaks a rule".
_UNREADABLE = frozenset(
    {"not_zip", "too_many_files", "name_mismatch", "encrypted", "unsupported_method", "truncated"}
)
_ARGUMENT_KINDS = frozenset({"bad_module_path", "bad_version"})


def _fail(message: str, code: int) -> int:
    print(f"gomodproxy: {message}", file=sys.stderr)
    return code


def _code_for(exc: ZipError) -> int:
    if exc.kind in _ARGUMENT_KINDS:
        return 2
    return 2 if exc.kind in _UNREADABLE else 1


def _module_args(args: argparse.Namespace) -> tuple[str, str] | None:
    if (args.module is None) != (args.version is None):
        raise _UsageError("--module and --version must be given together")
    if args.module is None:
        return None
    return str(args.module), str(args.version)


class _UsageError(Exception):
    """Wrong arguments: reported with exit code 2."""


def _looks_like_zip(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(4)
        if head in (b"PK\x03\x04", b"PK\x05\x06"):
            return True
        try:
            read_directory(f)
        except ZipError:
            return False
    return True


def _cmd_hash(args: argparse.Namespace) -> int:
    path = str(args.path)
    try:
        module = _module_args(args)
        if os.path.isdir(path):
            if module is None:
                raise _UsageError(f"{path} is a directory: pass --module and --version")
            print(hash_module_dir(module[0], module[1], path))
        elif _looks_like_zip(path):
            print(hash_zip_file(path))
        else:
            with open(path, "rb") as f:
                print(hash_go_mod(f.read()))
    except _UsageError as exc:
        return _fail(str(exc), 2)
    except ZipError as exc:
        return _fail(str(exc), _code_for(exc))
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}", 2)
    return 0


def _cmd_zip(args: argparse.Namespace) -> int:
    source = str(args.dir)
    if not os.path.isdir(source):
        return _fail(f"{source} is not a directory", 2)
    try:
        write_module_zip_from_dir(args.output, args.module, args.version, source)
    except ZipError as exc:
        return _fail(f"create zip from {source}: {exc}", _code_for(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 2)
    return 0


def _infer_module(zip_path: str) -> tuple[str, str]:
    with open(zip_path, "rb") as f:
        directory = read_directory(f)
    for entry in directory.entries:
        at = entry.name.find("@")
        slash = entry.name.find("/", at + 1) if at > 0 else -1
        if slash > at > 0:
            return entry.name[:at], entry.name[at + 1 : slash]
    raise _UsageError(
        f"cannot tell the module and version of {zip_path} (no path@version/ entry): "
        "pass --module and --version"
    )


def _print_report(checked: CheckedFiles) -> None:
    for name in checked.valid:
        print(f"valid: {name}")
    for fe in checked.omitted:
        print(f"omitted: {fe.path}: {fe.reason}")
    for fe in checked.invalid:
        print(f"invalid: {fe.path}: {fe.reason}")


def _cmd_check(args: argparse.Namespace) -> int:
    path = str(args.file)
    try:
        module = _module_args(args)
        if os.path.isdir(path):
            checked = check_dir(path)
        else:
            if module is None:
                module = _infer_module(path)
            checked = check_zip_file(path, module[0], module[1])
    except _UsageError as exc:
        return _fail(str(exc), 2)
    except ZipError as exc:
        return _fail(f"{path}: {exc}", 2 if exc.kind != "too_large" else 1)
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}", 2)
    _print_report(checked)
    if checked.size_error is not None:
        return _fail(f"{path}: {checked.size_error}", 1)
    return 1 if checked.invalid else 0


def _add_module_flags(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--module", required=required, metavar="M", help="module path")
    parser.add_argument("--version", required=required, metavar="V", help="module version")


def build_mod_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``hash``, ``zip`` and ``check`` subcommands to the ``mod`` parser."""
    sub = parser.add_subparsers(dest="mod_command", metavar="SUBCOMMAND")
    sub.required = True
    commands: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("hash", "print the h1: hash of a module zip, go.mod file or module directory", _cmd_hash),
        ("zip", "write the module zip of a directory, as the go command would", _cmd_zip),
        ("check", "list the valid, omitted and invalid files of a module zip", _cmd_check),
    ]
    for name, help_text, func in commands:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == "hash":
            p.add_argument("path", help="module zip, go.mod file or module directory")
            _add_module_flags(p, required=False)
        elif name == "zip":
            p.add_argument("dir", help="module root directory")
            _add_module_flags(p, required=True)
            p.add_argument("-o", "--output", required=True, metavar="FILE", help="zip to write")
        else:
            p.add_argument("file", help="module zip (or module directory)")
            _add_module_flags(p, required=False)
        p.set_defaults(func=func)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``mod`` command group on the top-level parser."""
    parser = subparsers.add_parser(
        "mod",
        help="hash, build and check module zips",
        description="Hash, build and check module zips with the go command's rules.",
    )
    build_mod_parser(parser)
