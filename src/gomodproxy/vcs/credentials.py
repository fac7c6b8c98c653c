"""Credentials for private git hosts: tokens per host and ssh keys (issue 12).

``vcs-credentials`` in the ``--config`` TOML file is a table of hosts (``host`` or
``host:port``, as in ``.netrc``)::

    [vcs-credentials."git.corp.example"]
    user = "oauth2"                 # the basic-auth user sent with the token (default "git")
    token-file = "/run/secrets/git-token"   # or: token = "..." (not both)
    ssh-key = "/etc/gomodproxy/deploy_key"  # for ssh URLs of this host

In ``GOMODPROXY_VCS_CREDENTIALS`` and ``--vcs-credentials`` (repeatable) an entry is
``HOST=[USER:]@FILE``: the token is read from FILE, never given on a command line, where other
users could read it. An https repository URL gets its host's token as an ``Authorization``
header for that URL only, through git's environment; an ssh URL gets its host's key (else
``--vcs-ssh-key``) through ``GIT_SSH_COMMAND`` with ``IdentitiesOnly=yes``, ``BatchMode=yes``
and ``StrictHostKeyChecking=yes`` against ``--vcs-known-hosts`` when given. A token in a
rewrite URL wins over this table, which wins over ``.netrc``. Tokens are never shown: the
values print as ``***`` and :meth:`GitAuth.mask` blanks them in any text.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from gomodproxy.errors import ConfigError
from gomodproxy.upstream.netrc import NetrcCredentials

__all__ = ["GitAuth", "HostCredential", "load_token_files", "parse_credentials", "url_host"]

_KEYS = ("user", "token", "token-file", "ssh-key")
_DEFAULT_USER = "git"


@dataclass(frozen=True, slots=True)
class HostCredential:
    """One host's credentials; the token never appears in its text forms."""

    host: str
    user: str = _DEFAULT_USER
    token: str = field(default="", repr=False)
    token_file: Path | None = None
    ssh_key: Path | None = None

    def __str__(self) -> str:
        parts = []
        if self.token or self.token_file is not None:
            source = "***" if self.token_file is None else f"@{self.token_file}"
            parts.append(f"{self.user}:{source}")
        if self.ssh_key is not None:
            parts.append(f"ssh-key={self.ssh_key}")
        return f"{self.host}=" + ",".join(parts)

    def __repr__(self) -> str:
        return f"HostCredential({self})"


def _check_host(host: str, where: str) -> str:
    bad = not host or any(c in host for c in "/@ \t") or host.startswith("-") or "://" in host
    if bad:
        raise ConfigError(
            f"{where}: {host!r} is not a host name: write the host as in a URL, "
            '"git.corp.example" or "git.corp.example:8443"'
        )
    return host.lower()


def _one_table(host: str, entry: object, where: str) -> HostCredential:
    here = f"{where}: {host}"
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"{here}: expected a table of {', '.join(_KEYS)} "
            f'(write [vcs-credentials."{host}"] and key = value lines under it)'
        )
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{here}: unknown key {unknown[0]!r}; the keys are {', '.join(_KEYS)}")
    for key, value in entry.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{here}: {key} must be a non-empty string")
    token = str(entry.get("token", ""))
    token_file = entry.get("token-file")
    if token and token_file:
        raise ConfigError(f"{here}: give token or token-file, not both")
    ssh_key = entry.get("ssh-key")
    if not token and not token_file and not ssh_key:
        raise ConfigError(f"{here}: give a token, a token-file or an ssh-key")
    return HostCredential(
        _check_host(host, where),
        str(entry.get("user", _DEFAULT_USER)),
        token,
        Path(str(token_file)).expanduser() if token_file else None,
        Path(str(ssh_key)).expanduser() if ssh_key else None,
    )


def _one_text(text: str, where: str) -> HostCredential:
    host, eq, rest = text.partition("=")
    user, colon, source = rest.partition(":") if ":" in rest else ("", "", rest)
    if not eq or not source.startswith("@") or len(source) < 2 or (colon and not user):
        raise ConfigError(
            f"{where}: {_masked_text(text)!r} is not HOST=[USER:]@FILE: the token is read from "
            "FILE (a token is never given on a command line or in a variable; use the "
            "[vcs-credentials] table of the --config file for ssh keys)"
        )
    return HostCredential(
        _check_host(host, where), user or _DEFAULT_USER, "", Path(source[1:]).expanduser()
    )


def _masked_text(text: str) -> str:
    host, eq, rest = text.partition("=")
    return f"{host}=***" if eq and rest else text


def parse_credentials(raw: object, where: str) -> tuple[HostCredential, ...]:
    """The credentials of a TOML table (host to table), or of ``HOST=[USER:]@FILE`` entries
    (a string of space-separated entries, or a list of them); token files are not read."""
    if isinstance(raw, Mapping):
        found = [_one_table(str(host), entry, where) for host, entry in raw.items()]
    elif isinstance(raw, str):
        found = [_one_text(item, where) for item in raw.split()]
    elif isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw):
        found = [_one_text(item, where) for text in raw for item in text.split()]
    elif isinstance(raw, list | tuple) and all(isinstance(v, HostCredential) for v in raw):
        return tuple(raw)
    else:
        raise ConfigError(
            f'{where}: expected a table of hosts ([vcs-credentials."HOST"]) or '
            "HOST=[USER:]@FILE entries"
        )
    hosts = [c.host for c in found]
    twice = sorted({h for h in hosts if hosts.count(h) > 1})
    if twice:
        raise ConfigError(f"{where}: host {twice[0]!r} is given twice; keep one entry")
    return tuple(found)


def load_token_files(credentials: tuple[HostCredential, ...]) -> tuple[HostCredential, ...]:
    """Read each ``token-file`` (blocking; at start-up or reload) and check that each
    ``ssh-key`` is a readable file."""
    out = []
    for c in credentials:
        if c.token_file is not None:
            try:
                token = c.token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"--vcs-credentials {c.host}: cannot read the token file {c.token_file}: "
                    f"{getattr(exc, 'strerror', None) or exc}; check the path and its "
                    "permissions"
                ) from None
            if not token or "\n" in token:
                raise ConfigError(
                    f"--vcs-credentials {c.host}: the token file {c.token_file} must hold one "
                    "token on one line"
                )
            c = replace(c, token=token)
        if c.ssh_key is not None and not c.ssh_key.is_file():
            raise ConfigError(
                f"--vcs-credentials {c.host}: ssh-key {c.ssh_key} is not a readable file"
            )
        out.append(c)
    return tuple(out)


def url_host(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of a repository URL; scp-like ``user@host:path`` is ssh."""
    if "://" not in url and ":" in url.split("/", 1)[0]:
        host = url.split(":", 1)[0].rpartition("@")[2]
        return "ssh", host.lower(), None
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@dataclass(frozen=True, slots=True)
class GitAuth:
    """Which credential a repository URL gets (see the module docstring)."""

    credentials: tuple[HostCredential, ...] = ()
    netrc: NetrcCredentials = field(default_factory=NetrcCredentials)
    ssh_key: Path | None = None
    known_hosts: Path | None = None

    def _entry(self, host: str, port: int | None) -> HostCredential | None:
        names = (f"{host}:{port}", host) if port is not None else (host,)
        for name in names:
            for c in self.credentials:
                if c.host == name:
                    return c
        return None

    def for_url(self, url: str) -> tuple[dict[str, str], dict[str, str]]:
        """The git configuration (``GIT_CONFIG_KEY_n``) and environment for ``url``."""
        scheme, host, port = url_host(url)
        entry = self._entry(host, port)
        if scheme == "ssh":
            key = entry.ssh_key if entry is not None and entry.ssh_key else self.ssh_key
            return {}, {"GIT_SSH_COMMAND": self.ssh_command(key)}
        if scheme not in ("https", "http") or not host or urlsplit(url).username:
            return {}, {}
        login: tuple[str, str] | None = None
        if entry is not None and entry.token:
            login = (entry.user, entry.token)
        else:
            login = self.netrc.lookup(host, port)
        if login is None:
            return {}, {}
        token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        return {f"http.{url}.extraHeader": f"Authorization: Basic {token}"}, {}

    def ssh_command(self, key: Path | None) -> str:
        """``GIT_SSH_COMMAND`` for an ssh URL: batch mode, host keys checked, only ``key``."""
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        if self.known_hosts is not None:
            argv += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if key is not None:
            argv += ["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", str(key)]
        return " ".join(shlex.quote(a) for a in argv)

    def secrets(self) -> tuple[str, ...]:
        """Every token and password, for :meth:`mask`."""
        found = [c.token for c in self.credentials if c.token]
        found += [e.password for e in self.netrc.entries if e.password]
        found += [
            base64.b64encode(f"{c.user}:{c.token}".encode()).decode()
            for c in self.credentials
            if c.token
        ]
        return tuple(s for s in found if len(s) >= 4)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text
