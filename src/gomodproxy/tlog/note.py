"""Signed notes: the text-plus-signatures format of the checksum database's tree heads.

A port of golang.org/x/mod/sumdb/note/note.go. A note is a text ending in a newline, a blank
line, then one or more signature lines ``— <name> <base64(4-byte key hash ‖ signature)>``
(U+2014 EM DASH, a space); the signature covers the text including its final newline. The keys
(:mod:`gomodproxy.tlog.notekeys`) are re-exported here, so one import serves both. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gomodproxy.errors import SumDBError
from gomodproxy.tlog.notekeys import (
    AmbiguousVerifier,
    InvalidKey,
    Signer,
    UnknownVerifier,
    Verifier,
    Verifiers,
    chop,
    decode_base64,
    encode_base64,
    generate_key,
    is_valid_name,
    key_hash,
    new_ed25519_verifier_key,
    new_signer,
    new_verifier,
    verifier_list,
)

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

_MAX_SIGNATURES = 100  # note.go: "Avoid spending forever parsing a note with many signatures."
_SIG_PREFIX = "— ".encode()  # U+2014 EM DASH, then a space


# --- errors -----------------------------------------------------------------------------------


class MalformedNote(SumDBError):
    """A signed note that breaks the format rules (note.go errMalformedNote)."""

    def __init__(self) -> None:
        super().__init__("malformed note")


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
        name, b64 = chop(line.decode("utf-8"), " ")
        blob = decode_base64(b64)
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
        new_lines.append(_SIG_PREFIX + f"{name} {encode_base64(blob)}\n".encode())

    out = [text, b"\n"]
    for sig in (*note.sigs, *note.unverified_sigs):
        if not is_valid_name(sig.name):
            raise MalformedNote()
        if (sig.name, sig.hash) in have:
            continue
        raw = decode_base64(sig.base64)
        if raw is None or len(raw) < 4 or int.from_bytes(raw[:4], "big") != sig.hash:
            raise MalformedNote()
        out.append(_SIG_PREFIX + f"{sig.name} {sig.base64}\n".encode())
    out.extend(new_lines)
    return b"".join(out)
