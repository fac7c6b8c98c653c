"""Signed notes: the text-plus-signatures format of the checksum database's tree heads.

A port of golang.org/x/mod/sumdb/note/note.go. A note is a text ending in a newline, a blank
line, then one or more signature lines ``— <name> <base64(4-byte key hash ‖ signature)>``
(U+2014 EM DASH, a space). Keys are Ed25519 (algorithm byte 1), written as texts:

* verifier key ``<name>+<hash>+<base64(0x01 ‖ 32-byte public key)>``;
* signer key ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ 32-byte seed)>``;

where ``<hash>`` is 8 hex digits, the first 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key).
Pure: no I/O (key generation reads the operating system's random source through
``cryptography``).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence
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
    "InvalidSignature",
    "InvalidSigner",
    "MalformedNote",
    "MismatchedVerifier",
    "Note",
    "Signature",
    "Signer",
    "UnknownVerifier",
    "UnverifiedNote",
    "Verifier",
    "Verifiers",
    "generate_key",
    "is_valid_name",
    "key_hash",
    "new_ed25519_verifier_key",
    "new_signer",
    "new_verifier",
    "open_note",
    "sign",
    "verifier_list",
]

_ALG_ED25519 = 1
_MAX_SIGNATURES = 100  # note.go: "Avoid spending forever parsing a note with many signatures."
_SIG_PREFIX = "— ".encode()  # U+2014 EM DASH, then a space
_HASH16 = re.compile(r"[0-9A-Fa-f]{8}")

# Go unicode.IsSpace: the White_Space property (note.go isValidName refuses these in names).
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


# --- errors -----------------------------------------------------------------------------------


class InvalidKey(ConfigError):
    """A verifier or signer key text that does not parse or whose hash does not match."""


class MalformedNote(SumDBError):
    """A signed note that breaks the format rules (note.go errMalformedNote)."""

    def __init__(self) -> None:
        super().__init__("malformed note")


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


class MismatchedVerifier(SumDBError):
    """A Verifiers lookup returned a verifier for another name or key hash."""

    def __init__(self) -> None:
        super().__init__("verifier name or hash doesn't match signature")


class InvalidSignature(SumDBError):
    """A known key's signature does not verify: the note was altered or forged."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_hash:08x}")
        self.name = name
        self.key_hash = key_hash


class UnverifiedNote(SumDBError):
    """The note parsed but no known key signed it; ``note`` holds what was parsed."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note


class InvalidSigner(SumDBError):
    """A signer whose name is not a valid key name."""

    def __init__(self) -> None:
        super().__init__("invalid signer")


# --- keys -------------------------------------------------------------------------------------


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


def _b64decode(text: str) -> bytes | None:
    """Go base64.StdEncoding.DecodeString (padded standard alphabet); None when malformed."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _chop(s: str, sep: str) -> tuple[str, str]:
    """Split at the first ``sep``; without one, (s, "") (note.go chop)."""
    before, found, after = s.partition(sep)
    return (before, after) if found else (s, "")


def _parse_key(name: str, hash16: str, key64: str) -> tuple[int, bytes] | None:
    """The common syntax checks of NewVerifier and NewSigner: (hash, key bytes) or None."""
    key = _b64decode(key64)
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
    name, rest = _chop(vkey, "+")
    hash16, key64 = _chop(rest, "+")
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
    priv1, rest = _chop(skey, "+")
    priv2, rest = _chop(rest, "+")
    name, rest = _chop(rest, "+")
    hash16, key64 = _chop(rest, "+")
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
    return f"{name}+{key_hash(name, encoded):08x}+{_b64encode(encoded)}"


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
    skey = f"PRIVATE+KEY+{name}+{h:08x}+{_b64encode(bytes([_ALG_ED25519]) + seed)}"
    vkey = f"{name}+{h:08x}+{_b64encode(public)}"
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


# --- notes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line of a note: key name, key hash and the base64 blob (note.Signature)."""

    name: str
    hash: int
    base64: str


@dataclass(frozen=True, slots=True)
class Note:
    """A note's text with its verified and unverified signatures (note.Note)."""

    text: str
    sigs: tuple[Signature, ...] = ()
    unverified_sigs: tuple[Signature, ...] = ()


def _check_note_bytes(msg: bytes) -> None:
    """Valid UTF-8 with no ASCII control characters other than newline (note.go Open)."""
    try:
        decoded = msg.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNote() from None
    if any(c < " " and c != "\n" for c in decoded):
        raise MalformedNote()


def open_note(msg: bytes, known: Verifiers | Sequence[Verifier]) -> Note:
    """Parse a signed note and verify its signatures against ``known`` (note.Open).

    Signatures by unknown keys are kept in ``unverified_sigs``; repeated lines are dropped.
    Raises :class:`MalformedNote` for bad syntax or more than 100 signatures,
    :class:`InvalidSignature` when a known key's signature fails, :class:`AmbiguousVerifier` or
    :class:`MismatchedVerifier` for a bad key list, and :class:`UnverifiedNote` ("note has no
    verifiable signatures") when no known key signed it.
    """
    verifiers = known if isinstance(known, Verifiers) else verifier_list(*known)
    _check_note_bytes(msg)

    # The signature block follows the last blank line and must end in a newline.
    split = msg.rfind(b"\n\n")
    if split < 0:
        raise MalformedNote()
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs or not sigs.endswith(b"\n"):
        raise MalformedNote()

    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    seen_unverified: set[bytes] = set()
    for count, raw_line in enumerate(sigs[:-1].split(b"\n"), start=1):
        if not raw_line.startswith(_SIG_PREFIX):
            raise MalformedNote()
        line = raw_line[len(_SIG_PREFIX) :]
        name, b64 = _chop(line.decode("utf-8"), " ")
        blob = _b64decode(b64)
        if blob is None or not is_valid_name(name) or not b64 or len(blob) < 5:
            raise MalformedNote()
        h = int.from_bytes(blob[:4], "big")
        if count > _MAX_SIGNATURES:
            raise MalformedNote()

        try:
            v = verifiers.verifier(name, h)
        except UnknownVerifier:
            if line not in seen_unverified:
                seen_unverified.add(line)
                unverified.append(Signature(name, h, b64))
            continue
        if v.name != name or v.key_hash != h:
            raise MismatchedVerifier()
        if (name, h) in seen:
            continue
        seen.add((name, h))
        if not v.verify(text, blob[4:]):
            raise InvalidSignature(name, h)
        verified.append(Signature(name, h, b64))

    note = Note(text.decode("utf-8"), tuple(verified), tuple(unverified))
    if not verified:
        raise UnverifiedNote(note)
    return note


def sign(note: Note | str, signers: Sequence[Signer]) -> bytes:
    """Sign a note's text with ``signers`` and return the encoded message (note.Sign).

    ``note`` is a text ending in a newline, or a :class:`Note` whose existing signatures are
    kept (before the new ones) unless a signer uses the same key. Raises :class:`MalformedNote`
    for a text without a final newline or a bad existing signature, :class:`InvalidSigner` for
    a signer with an invalid name.
    """
    if isinstance(note, str):
        note = Note(note)
    if not note.text.endswith("\n"):
        raise MalformedNote()
    text = note.text.encode("utf-8")

    new_lines: list[bytes] = []
    have: set[tuple[str, int]] = set()
    for signer in signers:
        name, h = signer.name, signer.key_hash
        have.add((name, h))
        if not is_valid_name(name):
            raise InvalidSigner()
        blob = h.to_bytes(4, "big") + signer.sign(text)
        new_lines.append(_SIG_PREFIX + f"{name} {_b64encode(blob)}\n".encode())

    out = [text, b"\n"]
    for sig in (*note.sigs, *note.unverified_sigs):
        if not is_valid_name(sig.name):
            raise MalformedNote()
        if (sig.name, sig.hash) in have:
            continue
        raw = _b64decode(sig.base64)
        if raw is None or len(raw) < 4 or int.from_bytes(raw[:4], "big") != sig.hash:
            raise MalformedNote()
        out.append(_SIG_PREFIX + f"{sig.name} {sig.base64}\n".encode())
    out.extend(new_lines)
    return b"".join(out)
