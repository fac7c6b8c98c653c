"""Key files of our checksum database server: generate a pair, load the signer, derive its verifier.

``NAME.signer`` holds the signer key text (``PRIVATE+KEY+NAME+hash+base64``, mode 0600),
``NAME.verifier`` the verifier key text (``NAME+hash+base64``), as GOSUMDB takes it:
``GOSUMDB='<verifier key> http://HOST:PORT'``.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gomodproxy.errors import ConfigError
from gomodproxy.tlog import note

__all__ = ["ServerKey", "load_signer_file", "server_key", "write_key_files"]


@dataclass(frozen=True, slots=True)
class ServerKey:
    """A loaded signing key with its verifier."""

    signer: note.Signer
    verifier: note.Verifier
    verifier_key: str

    @property
    def name(self) -> str:
        """The database name."""
        return self.signer.name


def server_key(skey: str) -> ServerKey:
    """Parse a signer key text and derive the matching verifier key."""
    signer = note.new_signer(skey)
    # The signer key's last field is base64(0x01 ‖ 32-byte Ed25519 seed); new_signer checked it.
    seed = base64.b64decode(skey.split("+", 4)[4])[1:]
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    vkey = note.new_ed25519_verifier_key(signer.name, public)
    return ServerKey(signer, note.new_verifier(vkey), vkey)


def load_signer_file(path: Path) -> ServerKey:
    """Read a ``.signer`` file (blocking; call at start-up)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read signer key file {path}: {exc}") from exc
    try:
        return server_key(text)
    except ConfigError as exc:
        raise ConfigError(
            f"{path} does not hold a signer key ({exc}); create one with 'gomodproxy sumdb keygen'"
        ) from exc


def write_key_files(name: str, out_dir: Path) -> tuple[Path, Path, str]:
    """Generate a key pair for ``name``: write ``NAME.signer`` (mode 0600) and ``NAME.verifier``.

    Refuses to overwrite an existing signer file. Returns (signer file, verifier file, verifier
    key).
    """
    skey, vkey = note.generate_key(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    signer_path = out_dir / f"{name.replace('/', '_')}.signer"
    verifier_path = out_dir / f"{name.replace('/', '_')}.verifier"
    try:
        fd = os.open(signer_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(f"{signer_path} exists; remove it or choose another --out") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(skey + "\n")
    verifier_path.write_text(vkey + "\n", encoding="utf-8")
    return signer_path, verifier_path, vkey
