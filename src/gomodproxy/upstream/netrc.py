""".netrc credentials for upstream proxies, parsed as the go command parses them.

The parser follows ``parseNetrc`` in ``cmd/go/internal/auth/netrc.go``: whitespace-separated
token pairs; ``machine`` starts an entry; ``login`` and ``password`` fill it; an entry is kept
once all three are set; ``macdef`` skips lines up to the next empty one; a ``default`` token
left alone at the end of a line ends parsing. Like the go command (``web/http.go``), the
credentials are sent over https only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NetrcCredentials", "NetrcEntry", "load_netrc", "netrc_path", "parse_netrc"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NetrcEntry:
    """One ``machine`` entry with its login and password."""

    machine: str
    login: str
    password: str

    def __repr__(self) -> str:
        return f"NetrcEntry(machine={self.machine!r}, login={self.login!r}, password='***')"


def parse_netrc(data: str) -> tuple[NetrcEntry, ...]:
    """Return the complete entries of a .netrc text, in file order."""
    entries: list[NetrcEntry] = []
    machine = login = password = ""
    in_macro = False
    for line in data.split("\n"):
        if in_macro:
            if line == "":
                in_macro = False
            continue
        fields = line.split()
        i = 0
        while i < len(fields) - 1:
            token, value = fields[i], fields[i + 1]
            if token == "machine":
                machine, login, password = value, "", ""
            elif token == "login":
                login = value
            elif token == "password":
                password = value
            elif token == "macdef":
                in_macro = True
            if machine and login and password:
                entries.append(NetrcEntry(machine, login, password))
                machine = login = password = ""
            i += 2
        if i < len(fields) and fields[i] == "default":
            break
    return tuple(entries)


@dataclass(frozen=True, slots=True)
class NetrcCredentials:
    """The parsed entries, looked up by host (first entry wins, as in the go command)."""

    entries: tuple[NetrcEntry, ...] = ()

    def lookup(self, host: str, port: int | None = None) -> tuple[str, str] | None:
        """Return ``(login, password)`` for ``host`` (or ``host:port``), or None."""
        names = {host, f"{host}:{port}"} if port is not None else {host}
        for entry in self.entries:
            if entry.machine in names:
                return entry.login, entry.password
        return None


def netrc_path(environ: Mapping[str, str]) -> Path | None:
    """The .netrc file the go command would read: ``$NETRC``, else ``$HOME/.netrc``."""
    if environ.get("NETRC"):
        return Path(environ["NETRC"])
    home = environ.get("HOME")
    if not home:
        return None
    return Path(home) / (".netrc" if os.name != "nt" else "_netrc")


def load_netrc(path: Path | None) -> NetrcCredentials:
    """Read and parse ``path``; a missing file means no credentials."""
    if path is None:
        return NetrcCredentials()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return NetrcCredentials()
    except OSError as exc:
        logger.warning("netrc.unreadable path=%s error=%s", path, exc.strerror)
        return NetrcCredentials()
    return NetrcCredentials(parse_netrc(text))
