"""Where the benchmarks put their results: one JSON document each, in benchmarks/results."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_result"]


def write_result(path: Path, result: object) -> None:
    """Write ``result`` as indented JSON to ``path`` (its folder created) and say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
