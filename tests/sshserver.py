"""A loopback ssh git server for tests: the real OpenSSH ``sshd`` (Debian's openssh-server).

``sshd -D`` runs with a configuration of its own on 127.0.0.1 and a free port: a throw-away
ed25519 host key, public-key login only, and an ``authorized_keys`` whose one key is
restricted (``restrict,command=``) to a wrapper that allows nothing but
``git-upload-pack '<name>'`` of a bare repository under ``root`` (logged to ``requests``).
The client key and a ``known_hosts`` file naming the host key are written for the tests; a
second client key that is not authorized and a ``known_hosts`` with another host key are
there to be refused.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SshServer", "running_sshd"]

_SSHD = "/usr/sbin/sshd"

_WRAPPER = """#!/bin/sh
# Only git-upload-pack of one repository under the served folder.
echo "$SSH_ORIGINAL_COMMAND" >> {log}
pattern="^git-upload-pack '/\\{{0,1\\}}\\([A-Za-z0-9][A-Za-z0-9._-]*\\)'\\$"
repo=$(printf '%s' "$SSH_ORIGINAL_COMMAND" | sed -n "s|$pattern|\\1|p")
if [ -z "$repo" ]; then
    echo "refused: only git-upload-pack of a repository" >&2
    exit 1
fi
if [ ! -d {root}/"$repo" ]; then
    # What git's own servers say (git-shell, GitHub, GitLab) for a missing repository.
    echo "fatal: '/$repo' does not appear to be a git repository" >&2
    exit 128
fi
exec git-upload-pack --strict {root}/"$repo"
"""


@dataclass(frozen=True)
class SshServer:
    """The running sshd: its port, keys and the commands it was asked to run."""

    port: int
    user: str
    client_key: Path
    other_key: Path
    known_hosts: Path
    wrong_known_hosts: Path
    log: Path

    @property
    def url(self) -> str:
        """``ssh://USER@127.0.0.1:PORT/``."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}/"

    @property
    def requests(self) -> list[str]:
        """The commands asked for, in order."""
        return self.log.read_text().splitlines() if self.log.exists() else []


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gomodproxy-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_sshd(folder: Path, root: Path) -> Iterator[SshServer]:
    """Serve the bare repositories under ``root`` over ssh for the block's duration."""
    if not os.access(_SSHD, os.X_OK):
        pytest.fail(f"{_SSHD} is required (Debian: apt-get install openssh-server)")
    folder.mkdir(parents=True, exist_ok=True)
    # Debian's sshd refuses to start without its privilege separation folder.
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    _keygen(folder / "host_key")
    other_host = _keygen(folder / "other_host_key")
    client = _keygen(folder / "client_key")
    _keygen(folder / "other_key")
    log = folder / "requests.log"
    wrapper = folder / "git-only"
    wrapper.write_text(_WRAPPER.format(log=log, root=root))
    wrapper.chmod(0o755)
    (folder / "authorized_keys").write_text(f'restrict,command="{wrapper}" {client}\n')
    port = _free_port()
    host_pub = (folder / "host_key.pub").read_text().split()
    known = folder / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    wrong = folder / "wrong_known_hosts"
    other = other_host.split()
    wrong.write_text(f"[127.0.0.1]:{port} {other[0]} {other[1]}\n")
    user = getpass.getuser()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"HostKey {folder / 'host_key'}",
                f"PidFile {folder / 'sshd.pid'}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                "AuthenticationMethods publickey",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                f"AllowUsers {user}",
                "PermitRootLogin prohibit-password",
                "AcceptEnv GIT_PROTOCOL",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    with (folder / "sshd.log").open("wb") as errors:
        proc = subprocess.Popen(
            [_SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sshd did not start: {(folder / 'sshd.log').read_text()}")
            time.sleep(0.05)
        yield SshServer(port, user, folder / "client_key", folder / "other_key", known, wrong, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
