"""The deployment files are checked by the tools that read them: the systemd unit by
``systemd-analyze verify`` (any warning fails), the example settings by ``config check``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.config import OPTIONS, env_name

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "systemd" / "gomodproxy.service"
EXAMPLE = DEPLOY / "gomodproxy.toml.example"
EXEC_START = "ExecStart=/usr/local/bin/gomodproxy serve --config /etc/gomodproxy/gomodproxy.toml"

_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(_ANALYZE is None, reason="systemd-analyze missing")


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` on the unit with ExecStart pointing at a real executable
    (the tool refuses a command that does not exist on this machine)."""
    binary = tmp_path / "gomodproxy"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    assert EXEC_START in unit_text
    unit = tmp_path / "gomodproxy.service"
    unit.write_text(unit_text.replace("/usr/local/bin/gomodproxy", str(binary)))
    assert _ANALYZE is not None
    return subprocess.run(
        [_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )


@needs_systemd_analyze
def test_systemd_unit_verifies_without_warnings(tmp_path: Path) -> None:
    result = _verify(UNIT.read_text(), tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@needs_systemd_analyze
@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("[Service]", "[Service"),  # a syntax error: the unit does not load
        ("PrivateTmp=yes", "PrivateTmpp=yes"),  # a misspelt key: only a warning
        ("NoNewPrivileges=yes", "NoNewPrivileges=maybe"),  # a bad value: only a warning
    ],
)
def test_systemd_check_catches_a_broken_unit(tmp_path: Path, good: str, bad: str) -> None:
    text = UNIT.read_text()
    assert good in text
    result = _verify(text.replace(good, bad, 1), tmp_path)
    assert result.returncode != 0 or result.stderr


def test_unit_is_hardened() -> None:
    lines = set(UNIT.read_text().splitlines())
    for line in (
        EXEC_START,
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/cache/gomodproxy",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "Restart=on-failure",
        # serve reloads its live settings on SIGHUP (tests/integration/test_config_reload.py).
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert line in lines, line
    assert any(line.startswith("RestrictAddressFamilies=") for line in lines)


def test_example_settings_pass_config_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for option in OPTIONS:
        monkeypatch.delenv(env_name(option.name), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["config", "check", "--config", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == "ok\n"
