"""``gomodproxy config check|show``: every problem with its line, sources, masked secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gomodproxy.admin.configcheck import ConfigInput, check_config, mask_secrets
from gomodproxy.cli.main import main
from gomodproxy.config import OPTIONS, env_name

VALID = """\
# a proxy for the build farm
listen = "127.0.0.1:9090"
upstream = "http://127.0.0.1:9/"
sumdb = "off"
retries = 3
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No GOMODPROXY_* or Go variable of the machine leaks into the checks."""
    for option in OPTIONS:
        monkeypatch.delenv(env_name(option.name), raising=False)
    for var in ("GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "NETRC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gomodproxy.toml"
    path.write_text(text)
    return path


def test_valid_file_prints_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, VALID)
    assert main(["config", "check", "--config", str(path)]) == 0
    assert capsys.readouterr().out == "ok\n"


def test_unknown_key_and_bad_value_are_both_reported_with_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, VALID + 'cache_dri = "/srv/cache"\nworkers = "many"\n')
    assert main(["config", "check", "--config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{path}:6: unknown setting 'cache_dri'")
    assert "did you mean 'cache-dir'?" in err[0]
    assert err[1].startswith(f"{path}:7: invalid value 'many'")
    assert err[2] == "gomodproxy: 2 problems found"


def test_problems_after_the_first_are_found_too(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID + "workers = 0\nmax-fetches = 0\ntls-cert = 'c.pem'\n")
    report = check_config(ConfigInput(path, {"HOME": str(tmp_path)}, go_env=lambda names: {}))
    assert [(p.line, p.message.split(" ")[0]) for p in report.problems] == [
        (6, "--workers"),
        (7, "--max-fetches"),
        (8, "--tls-cert"),
    ]
    assert report.settings is None


def test_check_json_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 'listen = "nowhere"\nupstream = "off"\n')
    assert main(["config", "check", "--json", "--config", str(path)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["problems"] == [
        {
            "where": str(path),
            "line": 1,
            "message": "invalid --listen 'nowhere': use HOST:PORT, e.g. 127.0.0.1:8080",
        }
    ]


def test_invalid_toml_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 'upstream = "off"\nlisten = \n')
    assert main(["config", "check", "--config", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"{path}:2: not valid TOML")


def test_upstream_pointing_at_itself_is_a_problem_of_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'listen = "127.0.0.1:9090"\nupstream = "http://127.0.0.1:9090/"\n')
    report = check_config(ConfigInput(path, {"HOME": str(tmp_path)}, go_env=lambda names: {}))
    [problem] = report.problems
    assert (problem.where, problem.line) == (str(path), 2)
    assert "is this proxy itself" in problem.message


def test_environment_overrides_file_and_show_names_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, VALID)
    monkeypatch.setenv("GOMODPROXY_LISTEN", "127.0.0.1:7000")
    assert main(["config", "show", "--json", "--config", str(path), "--workers", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["listen"] == {"value": "127.0.0.1:7000", "source": "env GOMODPROXY_LISTEN"}
    assert doc["retries"] == {"value": "3", "source": f"file {path}:5"}
    assert doc["workers"] == {"value": "2", "source": "flag --workers"}
    assert doc["list-ttl"] == {"value": "60.0", "source": "default"}


def test_show_masks_passwords_but_not_the_netrc_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    netrc = tmp_path / "netrc"
    text = VALID.replace(
        '"http://127.0.0.1:9/"', '"http://alice:s3cret@127.0.0.1:9/|http://bob:pw@127.0.0.1:8/"'
    )
    path = _write(tmp_path, text + f'netrc = "{netrc}"\n')
    assert main(["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert ":pw@" not in out
    assert "http://alice:***@127.0.0.1:9/|http://bob:***@127.0.0.1:8/" in out
    assert str(netrc) in out


def test_show_refuses_invalid_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, VALID + "retries = 1\n")
    assert main(["config", "show", "--config", str(path)]) == 1
    assert "not valid TOML" in capsys.readouterr().err


def test_mask_secrets_keeps_urls_without_passwords() -> None:
    assert mask_secrets("https://proxy.example/,direct") == "https://proxy.example/,direct"
    assert mask_secrets("https://u:p@h/") == "https://u:***@h/"


def test_bad_environment_value_is_reported_by_its_variable(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    environ = {"HOME": str(tmp_path), "GOMODPROXY_WORKERS": "abc"}
    report = check_config(ConfigInput(path, environ, go_env=lambda names: {}))
    [problem] = report.problems
    assert (problem.where, problem.line) == ("GOMODPROXY_WORKERS", None)


def test_cache_limits_and_pins_are_checked_with_their_lines(tmp_path: Path) -> None:
    extra = 'cache-max-size = "lots"\ncache-max-age = "3y"\nkeep = ["missing.sum"]\n'
    path = _write(tmp_path, VALID + extra)
    report = check_config(ConfigInput(path, {"HOME": str(tmp_path)}, go_env=lambda names: {}))
    assert [(p.line, p.message.split(":")[0]) for p in report.problems] == [
        (6, "--cache-max-size"),
        (7, "--cache-max-age"),
        (8, "--keep missing.sum is not a readable file (a go.mod or go.sum)"),
    ]


def test_show_lists_the_keep_files_and_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pins = [tmp_path / "a.sum", tmp_path / "go.mod"]
    for pin in pins:
        pin.write_text("")
    keep = ", ".join(f'"{p}"' for p in pins)
    path = _write(tmp_path, VALID + f'cache-max-size = "10GiB"\nkeep = [{keep}]\n')
    assert main(["config", "show", "--json", "--config", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cache-max-size"] == {"value": "10GiB", "source": f"file {path}:6"}
    assert doc["keep"] == {"value": f"{pins[0]}:{pins[1]}", "source": f"file {path}:7"}
    assert doc["cache-max-age"]["source"] == "default"


def test_client_auth_entries_are_checked_with_their_line_and_fix(tmp_path: Path) -> None:
    """A ``--client-auth`` entry holding a token instead of its hash is a problem of the file's
    ``client-auth`` line, and the message says how to write the hash (never the token)."""
    good = "a" * 64
    path = _write(
        tmp_path,
        VALID + f'client-auth = [\n  "corp.example=sha256:{good}",\n  "corp.example=tok3n"\n]\n',
    )
    report = check_config(ConfigInput(path, {"HOME": str(tmp_path)}, go_env=lambda names: {}))
    assert [p.line for p in report.problems] == [6]
    assert "expected sha256:HEX or USER:sha256:HEX" in report.problems[0].message
    assert "sha256sum" in report.problems[0].message
    environ = {"HOME": str(tmp_path), "GOMODPROXY_CLIENT_AUTH": "=sha256:" + good}
    report = check_config(ConfigInput(_write(tmp_path, VALID), environ, go_env=lambda n: {}))
    assert [p.where for p in report.problems] == ["GOMODPROXY_CLIENT_AUTH"]
    assert "write PATTERNS=sha256:HEX" in report.problems[0].message


def test_vcs_credentials_are_checked_with_their_line_and_fix(tmp_path: Path) -> None:
    """The ``[vcs-credentials."HOST"]`` tables: an unknown key, and a token file that cannot
    be read, are problems of the table's line naming the fix."""
    text = VALID + '\n[vcs-credentials."git.corp.example"]\ntokn = "x"\n'
    report = check_config(
        ConfigInput(_write(tmp_path, text), {"HOME": str(tmp_path)}, go_env=lambda n: {})
    )
    assert [p.line for p in report.problems] == [7]
    assert "unknown key 'tokn'; the keys are user, token, token-file, ssh-key" in str(
        report.problems[0]
    )
    missing = tmp_path / "no-token"
    text = VALID + f'\n[vcs-credentials."git.corp.example"]\ntoken-file = "{missing}"\n'
    report = check_config(
        ConfigInput(_write(tmp_path, text), {"HOME": str(tmp_path)}, go_env=lambda n: {})
    )
    assert [p.line for p in report.problems] == [7]
    assert f"cannot read the token file {missing}" in report.problems[0].message
