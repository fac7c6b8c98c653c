"""Signed notes: the vectors of x/mod sumdb/note/note_test.go, plus a real sum.golang.org head."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gomodproxy.sumdb.gosumdb import SUM_GOLANG_ORG_KEY
from gomodproxy.tlog import note
from gomodproxy.tlog.note import (
    AmbiguousVerifier,
    InvalidKey,
    InvalidSignature,
    InvalidSigner,
    MalformedNote,
    MismatchedVerifier,
    Note,
    Signature,
    Signer,
    UnknownVerifier,
    UnverifiedNote,
    Verifier,
    generate_key,
    new_signer,
    new_verifier,
    open_note,
    sign,
    verifier_list,
)

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
PETER = Signature(
    "PeterNeumann",
    0xC74F20A3,
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
)
ENOCH = Signature(
    "EnochRoot",
    0xAF0CFE78,
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
)

# A real sum.golang.org tree head (reference section 9), signed with the built-in key.
REAL_TREE_NOTE = (
    "go.sum database tree\n"
    "65664258\n"
    "WVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n"
    "\n"
    "— sum.golang.org "
    "Az3grligJmgX7KGyGPKybykNTh3VgsbLvUuvOwrM5zLVlulmFp2wdvbxOw74/gcNxURShXEpb7RXcs3+BYflYN+w0gQ=\n"
).encode()


def peter() -> Verifier:
    return new_verifier(PETER_VKEY)


def enoch() -> Verifier:
    return new_verifier(ENOCH_VKEY)


# --- keys (TestNewVerifier, TestNewSigner, TestGenerateKey) -------------------------------------


def test_peter_neumann_verifier_key_parses_with_its_name_and_hash() -> None:
    v = peter()
    assert (v.name, v.key_hash) == ("PeterNeumann", 0xC74F20A3)


def test_every_substring_and_every_byte_change_of_a_verifier_key_is_refused() -> None:
    b = PETER_VKEY.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if i == 0 and j == len(b):
                continue
            with pytest.raises(InvalidKey):
                new_verifier(b[i:j].decode())
    for i in range(len(b)):
        mangled = b[:i] + bytes([b[i] + 1]) + b[i + 1 :]
        with pytest.raises(InvalidKey):
            new_verifier(mangled.decode())


def test_verifier_key_of_wrong_length_or_unknown_algorithm_is_refused() -> None:
    with pytest.raises(InvalidKey, match=r"malformed verifier id"):
        new_verifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(InvalidKey, match=r"unknown verifier algorithm"):
        new_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_verifier_key_hash_must_match_the_key() -> None:
    with pytest.raises(InvalidKey, match=r"invalid verifier hash"):
        new_verifier("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


@pytest.mark.parametrize("hash16", ["+74f20a3", "0xc74f20", "c74f_0a3", " c74f20a"])
def test_verifier_key_hash_is_exactly_eight_hex_digits(hash16: str) -> None:
    with pytest.raises(InvalidKey, match=r"malformed verifier id"):
        new_verifier(f"PeterNeumann+{hash16}+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_every_substring_and_every_byte_change_of_a_signer_key_is_refused() -> None:
    new_signer(PETER_SKEY)
    b = PETER_SKEY.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if i == 0 and j == len(b):
                continue
            with pytest.raises(InvalidKey):
                new_signer(b[i:j].decode())
    for i in range(len(b)):
        mangled = b[:i] + bytes([b[i] + 1]) + b[i + 1 :]
        with pytest.raises(InvalidKey):
            new_signer(mangled.decode())


def _check_pair(name: str, signer: Signer, verifier: Verifier) -> None:
    assert signer.name == verifier.name == name
    assert signer.key_hash == verifier.key_hash
    msg = b"hi"
    sig = signer.sign(msg)
    assert verifier.verify(msg, sig)
    assert not verifier.verify(msg, bytes([sig[0] ^ 1]) + sig[1:])
    assert not verifier.verify(b"hj", sig)
    assert not verifier.verify(msg, sig[:-1])


def test_generated_key_pair_is_self_consistent() -> None:
    skey, vkey = generate_key("EnochRoot")
    assert skey.startswith("PRIVATE+KEY+EnochRoot+")
    _check_pair("EnochRoot", new_signer(skey), new_verifier(vkey))


def test_generated_keys_differ_each_time() -> None:
    assert generate_key("a")[1] != generate_key("a")[1]


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u3000b"])
def test_generate_key_refuses_names_that_could_not_be_parsed_back(name: str) -> None:
    with pytest.raises(InvalidKey):
        generate_key(name)


def test_ed25519_verifier_key_from_a_public_key_matches_the_signer() -> None:
    skey, vkey = generate_key("EnochRoot")
    v = new_verifier(vkey)
    raw = vkey.split("+", 2)[2]
    import base64

    public = base64.b64decode(raw)[1:]
    assert note.new_ed25519_verifier_key("EnochRoot", public) == vkey
    _check_pair("EnochRoot", new_signer(skey), v)
    with pytest.raises(InvalidKey):
        note.new_ed25519_verifier_key("EnochRoot", public[:-1])


def test_peter_neumann_signer_and_verifier_agree() -> None:
    _check_pair("PeterNeumann", new_signer(PETER_SKEY), peter())


def test_key_names_follow_go_unicode_is_space() -> None:
    # U+001C is a control character but not white space for Go's unicode.IsSpace.
    assert note.is_valid_name("a\x1cb")
    assert not note.is_valid_name("a\x85b")
    assert not note.is_valid_name("a\u2028b")
    assert note.is_valid_name("localhost.localdev/sumdb")


# --- signing (TestSign) --------------------------------------------------------------------------


def test_sign_reproduces_the_documented_peter_neumann_note() -> None:
    msg = sign(TEXT, [new_signer(PETER_SKEY)])
    assert msg == (TEXT + "\n" + PETER_SIG).encode()


def test_sign_replaces_an_existing_signature_by_the_same_key() -> None:
    old = Note(TEXT, sigs=(Signature("PeterNeumann", 0xC74F20A3, "BADSIGN="),))
    assert sign(old, [new_signer(PETER_SKEY)]) == (TEXT + "\n" + PETER_SIG).encode()


def test_sign_keeps_other_signatures_before_new_ones() -> None:
    skey, vkey = generate_key("EnochRoot")
    first = open_note(sign(TEXT, [new_signer(PETER_SKEY)]), [peter()])
    both = sign(first, [new_signer(skey)])
    assert both.startswith((TEXT + "\n" + PETER_SIG).encode())
    opened = open_note(both, [peter(), new_verifier(vkey)])
    assert [s.name for s in opened.sigs] == ["PeterNeumann", "EnochRoot"]


def test_sign_refuses_text_without_final_newline() -> None:
    with pytest.raises(MalformedNote, match=r"^malformed note$"):
        sign("abc", [new_signer(PETER_SKEY)])


def test_sign_refuses_existing_signature_with_bad_name() -> None:
    with pytest.raises(MalformedNote):
        sign(Note(TEXT, sigs=(Signature("a+b", 0, "ABCD"),)), [])


def test_sign_refuses_existing_signature_whose_blob_has_another_hash() -> None:
    with pytest.raises(MalformedNote):
        sign(Note(TEXT, sigs=(Signature("PeterNeumann", 0xC74F20A3, "BADHASH="),)), [])


@dataclass(frozen=True)
class _BadNameSigner:
    inner: Signer

    @property
    def name(self) -> str:
        return "bad name"

    @property
    def key_hash(self) -> int:
        return self.inner.key_hash

    def sign(self, msg: bytes) -> bytes:
        return self.inner.sign(msg)


class _Surprise(Exception):
    pass


@dataclass(frozen=True)
class _FailingSigner:
    inner: Signer

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def key_hash(self) -> int:
        return self.inner.key_hash

    def sign(self, msg: bytes) -> bytes:
        raise _Surprise("surprise!")


def test_sign_refuses_signer_with_invalid_name() -> None:
    with pytest.raises(InvalidSigner, match=r"^invalid signer$"):
        sign(TEXT, [_BadNameSigner(new_signer(PETER_SKEY))])


def test_sign_passes_on_a_signer_failure() -> None:
    with pytest.raises(_Surprise):
        sign(TEXT, [_FailingSigner(new_signer(PETER_SKEY))])


# --- verifier lists (TestVerifierList) -----------------------------------------------------------


def test_verifier_list_finds_known_keys_and_names_unknown_and_ambiguous_ones() -> None:
    p, e = peter(), enoch()
    keys = verifier_list(p, e, e)
    assert keys.verifier("PeterNeumann", 0xC74F20A3) is p
    with pytest.raises(UnknownVerifier, match=r"^unknown key PeterNeumann\+c74f20a4$"):
        keys.verifier("PeterNeumann", 0xC74F20A4)
    with pytest.raises(UnknownVerifier, match=r"^unknown key PeterNeuman\+c74f20a3$"):
        keys.verifier("PeterNeuman", 0xC74F20A3)
    with pytest.raises(AmbiguousVerifier, match=r"^ambiguous key EnochRoot\+af0cfe78$"):
        keys.verifier("EnochRoot", 0xAF0CFE78)


# --- opening (TestOpen) --------------------------------------------------------------------------


def _msg(*parts: str) -> bytes:
    return "".join(parts).encode()


def _insert_abcd(sig_line: str) -> str:
    """Insert "ABCD" at byte offset 60, as note_test.go does (the dash is 3 bytes)."""
    raw = sig_line.encode()
    return (raw[:60] + b"ABCD" + raw[60:]).decode()


def test_open_keeps_unknown_signatures_unverified() -> None:
    n = open_note(_msg(TEXT, "\n", PETER_SIG, ENOCH_SIG), [peter()])
    assert n.text == TEXT
    assert n.sigs == (PETER,)
    assert n.unverified_sigs == (ENOCH,)


def test_open_verifies_every_known_signature() -> None:
    n = open_note(_msg(TEXT, "\n", PETER_SIG, ENOCH_SIG), [peter(), enoch()])
    assert n.sigs == (PETER, ENOCH)
    assert n.unverified_sigs == ()


def test_e49_note_with_only_unknown_keys_has_no_verifiable_signatures() -> None:
    with pytest.raises(UnverifiedNote, match=r"^note has no verifiable signatures$") as info:
        open_note(_msg(TEXT, "\n", PETER_SIG, ENOCH_SIG), [])
    assert info.value.note.sigs == ()
    assert info.value.note.unverified_sigs == (PETER, ENOCH)


def test_e49_duplicated_verifier_is_an_ambiguous_key() -> None:
    with pytest.raises(AmbiguousVerifier, match=r"^ambiguous key EnochRoot\+af0cfe78$"):
        open_note(_msg(TEXT, "\n", ENOCH_SIG), verifier_list(enoch(), peter(), enoch()))


def test_unused_duplicated_verifier_does_not_matter() -> None:
    n = open_note(_msg(TEXT, "\n", PETER_SIG), verifier_list(enoch(), peter(), enoch()))
    assert n.sigs == (PETER,)


def test_e49_more_than_100_signatures_is_malformed() -> None:
    for known in ([peter()], []):
        with pytest.raises(MalformedNote, match=r"^malformed note$"):
            open_note(_msg(TEXT, "\n", PETER_SIG * 101), known)


def test_exactly_100_signatures_are_accepted() -> None:
    assert open_note(_msg(TEXT, "\n", PETER_SIG * 100), [peter()]).sigs == (PETER,)


def test_e49_bad_signature_by_a_known_key_is_an_error() -> None:
    bad = _insert_abcd(PETER_SIG)
    with pytest.raises(
        InvalidSignature, match=r"^invalid signature for key PeterNeumann\+c74f20a3$"
    ):
        open_note(_msg(TEXT, "\n", bad), [peter()])


def test_duplicated_signature_lines_are_dropped() -> None:
    enoch_abcd = _insert_abcd(ENOCH_SIG)
    n = open_note(
        _msg(TEXT, "\n", PETER_SIG, PETER_SIG, ENOCH_SIG, ENOCH_SIG, enoch_abcd), [peter()]
    )
    assert n.sigs == (PETER,)
    assert n.unverified_sigs == (
        ENOCH,
        Signature(
            "EnochRoot",
            0xAF0CFE78,
            "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n"
            "ABCD"
            "2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
        ),
    )


BAD_MESSAGES = [
    pytest.param(TEXT, id="no-blank-line"),
    pytest.param(TEXT + "\n", id="no-signatures"),
    pytest.param(TEXT + "\n" + PETER_SIG[:-1], id="no-final-newline"),
    pytest.param("\x01" + TEXT + "\n" + PETER_SIG, id="leading-control-char"),
    pytest.param(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), id="invalid-utf8"),
    pytest.param(
        TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZS"
        "NXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        id="space-in-name",
    ),
    pytest.param(TEXT + "\n" + PETER_SIG + "Unexpected line.\n", id="text-after-signatures"),
    pytest.param(TEXT + "\n" + "- PeterNeumann " + PETER.base64 + "\n", id="ascii-dash"),
    pytest.param(TEXT + "\n" + "— PeterNeumann \n", id="empty-signature"),
    pytest.param(TEXT + "\n" + "— PeterNeumann AAAAAA==\n", id="signature-under-5-bytes"),
    pytest.param(TEXT + "\n" + "— PeterNeumann x08go/Z\n", id="bad-base64"),
    pytest.param(TEXT + "\r\n" + PETER_SIG, id="carriage-return"),
    pytest.param(TEXT.replace(",", "\t", 1) + "\n" + PETER_SIG, id="tab-in-text"),
]


@pytest.mark.parametrize("msg", BAD_MESSAGES)
def test_e49_malformed_notes_are_refused(msg: str | bytes) -> None:
    raw = msg.encode() if isinstance(msg, str) else msg
    with pytest.raises(MalformedNote, match=r"^malformed note$"):
        open_note(raw, [peter()])


@dataclass(frozen=True)
class _FixedVerifiers:
    v: Verifier

    def verifier(self, name: str, key_hash: int) -> Verifier:
        return self.v


def test_verifiers_returning_a_verifier_for_another_name_or_hash_is_refused() -> None:
    misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(MismatchedVerifier):
        open_note(_msg(TEXT, "\n", misnamed), _FixedVerifiers(peter()))
    wrong_hash = PETER_SIG.replace("x08g", "xxxx")
    with pytest.raises(MismatchedVerifier):
        open_note(_msg(TEXT, "\n", wrong_hash), _FixedVerifiers(peter()))


def test_e49_right_name_with_wrong_key_hash_is_unverified() -> None:
    _, other = generate_key("PeterNeumann")
    with pytest.raises(UnverifiedNote):
        open_note(_msg(TEXT, "\n", PETER_SIG), [new_verifier(other)])


def test_signed_text_is_split_at_the_last_blank_line() -> None:
    text = "first\n\nsecond\n"
    msg = sign(text, [new_signer(PETER_SKEY)])
    assert open_note(msg, [peter()]).text == text


def test_real_sum_golang_org_tree_head_verifies_with_the_builtin_key() -> None:
    n = open_note(REAL_TREE_NOTE, [new_verifier(SUM_GOLANG_ORG_KEY)])
    assert n.text == (
        "go.sum database tree\n65664258\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n"
    )
    assert n.sigs[0].name == "sum.golang.org"
    assert n.sigs[0].hash == 0x033DE0AE


def test_real_sum_golang_org_tree_head_with_one_changed_digit_fails() -> None:
    forged = REAL_TREE_NOTE.replace(b"65664258", b"65664259")
    with pytest.raises(InvalidSignature):
        open_note(forged, [new_verifier(SUM_GOLANG_ORG_KEY)])
