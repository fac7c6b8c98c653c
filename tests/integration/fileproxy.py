"""A GOPROXY folder written by a test, served to the go command as ``file://``.

The layout is the proxy protocol's (and the module cache's ``cache/download``):
``<escaped path>/@v/list``, ``<escaped version>.info``, ``.mod`` and ``.zip``. The go command reads
it with ``GOPROXY=file://<root>``; nothing listens on a socket.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.corpus_data import go_escape

__all__ = ["FileProxy", "parse_json_stream"]


@dataclass(frozen=True, slots=True)
class FileProxy:
    """A proxy tree rooted at ``root``."""

    root: Path

    @property
    def url(self) -> str:
        """The GOPROXY value naming this tree."""
        return self.root.resolve().as_uri()

    def version_dir(self, path: str) -> Path:
        """The ``@v`` folder of module ``path``."""
        return self.root / go_escape(path) / "@v"

    def publish(
        self,
        path: str,
        version: str,
        *,
        mod: bytes,
        zip_file: Path,
        time: str = "2024-01-02T03:04:05Z",
    ) -> None:
        """Add ``path@version`` with its go.mod bytes and zip, and list it."""
        vdir = self.version_dir(path)
        vdir.mkdir(parents=True, exist_ok=True)
        base = go_escape(version)
        info = {"Version": version, "Time": time}
        (vdir / f"{base}.info").write_text(json.dumps(info), encoding="utf-8")
        (vdir / f"{base}.mod").write_bytes(mod)
        shutil.copyfile(zip_file, vdir / f"{base}.zip")
        list_file = vdir / "list"
        listed = list_file.read_text(encoding="utf-8").split() if list_file.exists() else []
        if version not in listed:
            listed.append(version)
        list_file.write_text("".join(v + "\n" for v in listed), encoding="utf-8")


def parse_json_stream(text: str) -> list[dict[str, object]]:
    """Parse the concatenated JSON objects the go command prints with ``-json``."""
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = decoder.raw_decode(text, i)
        assert isinstance(obj, dict)
        out.append(obj)
