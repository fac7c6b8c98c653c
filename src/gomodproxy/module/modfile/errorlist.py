"""go.mod parse errors, worded and positioned like x/mod's ``modfile.Error``/``ErrorList``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gomodproxy.errors import GoModSyntaxError

__all__ = ["GoModParseError", "ModFileError"]


@dataclass(frozen=True, slots=True)
class ModFileError:
    """One problem found in a go.mod or go.work file (x/mod ``modfile.Error``).

    ``line`` and ``column`` are 1-based (0 when unknown); ``verb`` and ``mod_path`` name the
    directive and module the problem belongs to, when there is one.
    """

    filename: str
    line: int
    column: int
    reason: str
    verb: str = ""
    mod_path: str = ""

    def directive_message(self) -> str:
        """The message without the position: ``"require x/y: version ... invalid: ..."``."""
        if self.mod_path:
            return f"{self.verb} {self.mod_path}: {self.reason}"
        if self.verb:
            return f"{self.verb}: {self.reason}"
        return self.reason

    def __str__(self) -> str:
        # x/mod Error.Error: the column only shows for scanner errors (column > 1).
        if self.column > 1:
            pos = f"{self.filename}:{self.line}:{self.column}: "
        elif self.line > 0:
            pos = f"{self.filename}:{self.line}: "
        elif self.filename:
            pos = f"{self.filename}: "
        else:
            pos = ""
        return pos + self.directive_message()


class GoModParseError(GoModSyntaxError):
    """A go.mod or go.work file failed to parse; ``errors`` lists every problem, in file order.

    ``line`` and ``reason`` are those of the first problem; the message is x/mod's
    ``ErrorList`` text, one ``file:line: problem`` per line. Fix the named lines.
    """

    def __init__(self, errors: Sequence[ModFileError]) -> None:
        if not errors:
            raise ValueError("GoModParseError needs at least one error")
        first = errors[0]
        super().__init__(first.filename, first.line, first.directive_message())
        self.errors = tuple(errors)
        self.message = "\n".join(str(e) for e in errors)
        self.args = (self.message,)
