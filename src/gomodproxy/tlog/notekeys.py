"""Keys of signed notes: verifier and signer key texts, Ed25519, and key lookup.

A port of the key half of golang.org/x/mod/sumdb/note/note.go. Keys are Ed25519 (algorithm
byte 1), written as texts:

* verifier key ``<name>+<hash>+<base64(0x01 ‖ 32-byte public key)>``;
* signer key ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ 32-byte seed)>``;

where ``<hash>`` is 8 hex digits, the first 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key).
Import these names from :mod:`gomodproxy.tlog.note`. Pure: no I/O (key generation reads the
operating system's random source through ``cryptography``).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gomodproxy.errors import ConfigError, SumDBError

__all__ = [
    "AmbiguousVerifier",
    "InvalidKey",
    "Signer",
    "UnknownVerifier",
    "Verifier",
    "Verifiers",
    "chop",
    "decode_base64",
    "encode_base64",
    "generate_key",
    "is_valid_name",
    "key_hash",
    "new_ed25519_verifier_key",
    "new_signer",
    "new_verifier",
    "verifier_list",
]

_ALG_ED25519 = 1
_HASH16 = re.compile(r"[0-9A-Fa-f]{8}")

# Go unicode.IsSpace: the White_Space property (note.go isValidName refuses these in names).
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class InvalidKey(ConfigError):
    """A verifier or signer key text that does not parse or whose hash does not match."""


class UnknownVerifier(SumDBError):
    """No known verifier has this name and key hash (note.go UnknownVerifierError)."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"unknown key {name}+{key_hash:08x}")
        self.name = name
        self.key_hash = key_hash


class AmbiguousVerifier(SumDBError):
    """Several known verifiers share a name and key hash: the key list was tampered with."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"ambiguous key {name}+{key_hash:08x}")
        self.name = name
        self.key_hash = key_hash


class Verifier(Protocol):
    """Verifies signatures made with one server key (note.Verifier)."""

    @property
    def name(self) -> str:
        """The server name of the key."""
        ...

    @property
    def key_hash(self) -> int:
        """The 32-bit key hash."""
        ...

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Whether ``sig`` is a valid signature of ``msg`` by this key."""
        ...


class Signer(Protocol):
    """Signs messages with one server key (note.Signer)."""

    @property
    def name(self) -> str:
        """The server name of the key."""
        ...

    @property
    def key_hash(self) -> int:
        """The 32-bit key hash (of the public key)."""
        ...

    def sign(self, msg: bytes) -> bytes:
        """The signature of ``msg``."""
        ...


@runtime_checkable
class Verifiers(Protocol):
    """A set of known verifier keys, looked up by name and key hash (note.Verifiers)."""

    def verifier(self, name: str, key_hash: int) -> Verifier:
        """The verifier for (name, key_hash); raise UnknownVerifier or AmbiguousVerifier."""
        ...


def is_valid_name(name: str) -> bool:
    """A key name is non-empty and has no Unicode white space and no ``+`` (isValidName)."""
    return bool(name) and "+" not in name and not any(c in _WHITE_SPACE for c in name)


def key_hash(name: str, key: bytes) -> int:
    """The key hash: first 4 bytes, big-endian, of SHA-256(name ‖ "\\n" ‖ key) (keyHash)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()
    return int.from_bytes(digest[:4], "big")


def decode_base64(text: str) -> bytes | None:
    """Go base64.StdEncoding.DecodeString (padded standard alphabet); None when malformed."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def encode_base64(data: bytes) -> str:
    """Standard padded base64 text (base64.StdEncoding.EncodeToString)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def chop(s: str, sep: str) -> tuple[str, str]:
    """Split at the first ``sep``; without one, (s, "") (note.go chop)."""
    before, found, after = s.partition(sep)
    return (before, after) if found else (s, "")


def _parse_key(name: str, hash16: str, key64: str) -> tuple[int, bytes] | None:
    """The common syntax checks of NewVerifier and NewSigner: (hash, key bytes) or None."""
    key = decode_base64(key64)
    if not _HASH16.fullmatch(hash16) or key is None or not is_valid_name(name) or not key:
        return None
    return int(hash16, 16), key


@dataclass(frozen=True, slots=True)
class _Ed25519Verifier:
    """An Ed25519 Verifier for one named key."""

    name: str
    key_hash: int
    public_key: bytes = field(repr=False)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Whether ``sig`` is a valid Ed25519 signature of ``msg`` (ed25519.Verify)."""
        if len(sig) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(sig, msg)
        except (_CryptoInvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class _Ed25519Signer:
    """An Ed25519 Signer for one named key."""

    name: str
    key_hash: int
    seed: bytes = field(repr=False)

    def sign(self, msg: bytes) -> bytes:
        """The Ed25519 signature of ``msg``."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(msg)


def new_verifier(vkey: str) -> Verifier:
    """Parse a verifier key ``<name>+<hash>+<base64 key>`` (note.NewVerifier).

    Raises :class:`InvalidKey` ("malformed verifier id", "invalid verifier hash" or "unknown
    verifier algorithm").
    """
    name, rest = chop(vkey, "+")
    hash16, key64 = chop(rest, "+")
    parsed = _parse_key(name, hash16, key64)
    if parsed is None:
        raise InvalidKey("malformed verifier id")
    want_hash, key = parsed
    if want_hash != key_hash(name, key):
        raise InvalidKey("invalid verifier hash")
    if key[0] != _ALG_ED25519:
        raise InvalidKey("unknown verifier algorithm")
    if len(key) != 1 + 32:
        raise InvalidKey("malformed verifier id")
    return _Ed25519Verifier(name, want_hash, key[1:])


def new_signer(skey: str) -> Signer:
    """Parse a signer key ``PRIVATE+KEY+<name>+<hash>+<base64 seed>`` (note.NewSigner).

    The hash names the public key, so it is checked after deriving that key. Raises
    :class:`InvalidKey` with the same texts as :func:`new_verifier` (Go reuses them).
    """
    priv1, rest = chop(skey, "+")
    priv2, rest = chop(rest, "+")
    name, rest = chop(rest, "+")
    hash16, key64 = chop(rest, "+")
    parsed = _parse_key(name, hash16, key64)
    if priv1 != "PRIVATE" or priv2 != "KEY" or parsed is None:
        raise InvalidKey("malformed verifier id")
    want_hash, key = parsed
    if key[0] != _ALG_ED25519:
        raise InvalidKey("unknown verifier algorithm")
    if len(key) != 1 + 32:
        raise InvalidKey("malformed verifier id")
    seed = key[1:]
    if want_hash != key_hash(name, bytes([_ALG_ED25519]) + _public_from_seed(seed)):
        raise InvalidKey("invalid verifier hash")
    return _Ed25519Signer(name, want_hash, seed)


def _public_from_seed(seed: bytes) -> bytes:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def new_ed25519_verifier_key(name: str, public_key: bytes) -> str:
    """The verifier key text for an Ed25519 public key (note.NewEd25519VerifierKey)."""
    if len(public_key) != 32:
        raise InvalidKey(f"invalid public key size {len(public_key)}, expected 32")
    if not is_valid_name(name):
        raise InvalidKey(f"invalid key name {name!r}: it must be non-empty, no spaces, no '+'")
    encoded = bytes([_ALG_ED25519]) + public_key
    return f"{name}+{key_hash(name, encoded):08x}+{encode_base64(encoded)}"


def generate_key(name: str) -> tuple[str, str]:
    """Generate a new Ed25519 key pair for server ``name``: (signer key, verifier key).

    The signer key is secret. Unlike Go's GenerateKey, an invalid name is refused here
    (:class:`InvalidKey`), because keys with such a name could never be parsed back.
    """
    if not is_valid_name(name):
        raise InvalidKey(f"invalid key name {name!r}: it must be non-empty, no spaces, no '+'")
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    public = bytes([_ALG_ED25519]) + private.public_key().public_bytes_raw()
    h = key_hash(name, public)
    skey = f"PRIVATE+KEY+{name}+{h:08x}+{encode_base64(bytes([_ALG_ED25519]) + seed)}"
    vkey = f"{name}+{h:08x}+{encode_base64(public)}"
    return skey, vkey


@dataclass(frozen=True, slots=True)
class _VerifierMap:
    """A Verifiers over a fixed list of keys (note.VerifierList)."""

    keys: dict[tuple[str, int], tuple[Verifier, ...]]

    def verifier(self, name: str, key_hash: int) -> Verifier:
        """The one verifier for (name, key_hash)."""
        found = self.keys.get((name, key_hash))
        if not found:
            raise UnknownVerifier(name, key_hash)
        if len(found) > 1:
            raise AmbiguousVerifier(name, key_hash)
        return found[0]


def verifier_list(*verifiers: Verifier) -> Verifiers:
    """A Verifiers knowing exactly ``verifiers``; duplicates make that key ambiguous."""
    keys: dict[tuple[str, int], tuple[Verifier, ...]] = {}
    for v in verifiers:
        k = (v.name, v.key_hash)
        keys[k] = (*keys.get(k, ()), v)
    return _VerifierMap(keys)
