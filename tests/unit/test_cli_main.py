"""The top-level command line: help texts a user reads, and ``--version``."""

from __future__ import annotations

import importlib.metadata

import pytest

from gomodproxy.cli.main import main


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_help_lists_only_commands_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    for command in ("bundle", "cache", "config", "download", "mod", "probe", "serve", "sumdb"):
        assert f"    {command} " in text, command


def test_netrc_help_names_both_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(capsys, "serve").split())
    assert "$NETRC/~" not in text
    assert "(default $NETRC, else ~/.netrc)" in text


def test_sumdb_help_has_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "sumdb")
    assert "``" not in text
    assert "gomodproxy sumdb keygen NAME --out DIR" in text


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"gomodproxy {importlib.metadata.version('gomodproxy')}\n"


def test_download_help_shows_the_go_command_flags(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "download")
    assert "``" not in text
    for flag in ("-json", "-x", "-reuse"):
        assert flag in text
