"""``-json`` output: one object per module, as ``go mod download -json`` prints it.

``encoding/json.MarshalIndent(m, "", "\\t")`` of cmd/go's ``ModuleJSON``: the fields in struct
order, empty ones omitted, a tab per level, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as
Go escapes them, non-ASCII text kept as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["ModuleResult", "format_json"]

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@dataclass(slots=True)
class ModuleResult:
    """The fields of cmd/go's ``ModuleJSON`` (``Origin`` kept as parsed JSON)."""

    path: str
    version: str = ""
    query: str = ""
    error: str = ""
    info: str = ""
    go_mod: str = ""
    zip: str = ""
    dir: str = ""
    sum: str = ""
    go_mod_sum: str = ""
    origin: object = None
    reuse: bool = False

    def as_dict(self) -> dict[str, object]:
        """The non-empty fields, in Go's order, under Go's names."""
        pairs: list[tuple[str, object]] = [
            ("Path", self.path),
            ("Version", self.version),
            ("Query", self.query),
            ("Error", self.error),
            ("Info", self.info),
            ("GoMod", self.go_mod),
            ("Zip", self.zip),
            ("Dir", self.dir),
            ("Sum", self.sum),
            ("GoModSum", self.go_mod_sum),
            ("Origin", self.origin),
            ("Reuse", self.reuse),
        ]
        return {k: v for k, v in pairs if v}


def format_json(result: ModuleResult) -> str:
    """The object as the go command prints it, with its trailing newline."""
    text = json.dumps(result.as_dict(), indent="\t", ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text + "\n"
