"""The standard AWS credential chain's first two links: the environment, then the shared files."""

from __future__ import annotations

from pathlib import Path

from gomodproxy.storage.awscreds import aws_credentials


def test_the_environment_comes_first(tmp_path: Path) -> None:
    _write(tmp_path / ".aws/credentials", "[default]\naws_access_key_id = FILE\n")
    env = {"AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1"}
    assert aws_credentials(env, tmp_path) == {
        "access_key_id": "ENV",
        "secret_access_key": "s",
        "region": "eu-west-1",
    }


def test_the_shared_files_for_the_selected_profile(tmp_path: Path) -> None:
    _write(
        tmp_path / ".aws/credentials",
        "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n"
        "[ci]\naws_access_key_id = C\naws_secret_access_key = CS\naws_session_token = T\n",
    )
    _write(tmp_path / ".aws/config", "[profile ci]\nregion = us-west-2\n")
    assert aws_credentials({}, tmp_path) == {"access_key_id": "D", "secret_access_key": "DS"}
    assert aws_credentials({"AWS_PROFILE": "ci"}, tmp_path) == {
        "access_key_id": "C",
        "secret_access_key": "CS",
        "token": "T",
        "region": "us-west-2",
    }


def test_files_named_by_the_environment_and_no_key_anywhere(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    _write(other, "[default]\naws_access_key_id = O\naws_secret_access_key = OS\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(other)}
    assert aws_credentials(env, tmp_path)["access_key_id"] == "O"
    assert aws_credentials({}, tmp_path / "nohome") == {}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
