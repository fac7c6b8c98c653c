"""go.mod and go.work files: parse, interpret, edit and format them like x/mod ``modfile``.

Pure: bytes in, values and bytes out. :func:`parse` reads a main module's go.mod strictly,
:func:`parse_lax` a dependency's; :func:`parse_work` reads go.work; :func:`format_file` (or
``ModFile.format()``) writes the standard text that ``go mod edit -fmt`` writes.
"""

from gomodproxy.module.gostrings import auto_quote, must_quote
from gomodproxy.module.modfile.directives import (
    GO_VERSION_RE,
    TOOLCHAIN_RE,
    ModFileVersionError,
    VersionFixer,
    is_directory_path,
)
from gomodproxy.module.modfile.edits import ModFile
from gomodproxy.module.modfile.errorlist import GoModParseError, ModFileError
from gomodproxy.module.modfile.printer import format_file
from gomodproxy.module.modfile.reader import module_path, parse_syntax
from gomodproxy.module.modfile.rules import parse, parse_lax
from gomodproxy.module.modfile.syntax import (
    Comment,
    CommentBlock,
    Comments,
    Expr,
    FileSyntax,
    Line,
    LineBlock,
    LParen,
    Position,
    RParen,
)
from gomodproxy.module.modfile.values import (
    Exclude,
    Go,
    Godebug,
    Ignore,
    Module,
    ModuleVersion,
    Replace,
    Require,
    Retract,
    Tool,
    Toolchain,
    Use,
    VersionInterval,
)
from gomodproxy.module.modfile.work import WorkFile, parse_work

__all__ = [
    "GO_VERSION_RE",
    "TOOLCHAIN_RE",
    "Comment",
    "CommentBlock",
    "Comments",
    "Exclude",
    "Expr",
    "FileSyntax",
    "Go",
    "GoModParseError",
    "Godebug",
    "Ignore",
    "LParen",
    "Line",
    "LineBlock",
    "ModFile",
    "ModFileError",
    "ModFileVersionError",
    "Module",
    "ModuleVersion",
    "Position",
    "RParen",
    "Replace",
    "Require",
    "Retract",
    "Tool",
    "Toolchain",
    "Use",
    "VersionFixer",
    "VersionInterval",
    "WorkFile",
    "auto_quote",
    "format_file",
    "is_directory_path",
    "module_path",
    "must_quote",
    "parse",
    "parse_lax",
    "parse_syntax",
    "parse_work",
]
