"""Settings: defaults < TOML < GOMODPROXY_* < flags, Go-environment fallbacks, validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from gomodproxy.assembly import check_settings
from gomodproxy.cli.main import build_parser
from gomodproxy.config import OPTIONS, Settings, build_settings, env_name, load_toml
from gomodproxy.errors import ConfigError


class GoEnv:
    """What `go env` would print, recording which names were asked for."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.asked: list[str] = []

    def __call__(self, names: Sequence[str]) -> Mapping[str, str]:
        self.asked.extend(names)
        return {n: self.values[n] for n in names if n in self.values}


def _build(
    flags: Mapping[str, object | None] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    file_values: Mapping[str, object] | None = None,
    go_env: GoEnv | None = None,
) -> Settings:
    env = {"HOME": "/home/gopher", "GOPROXY": "https://proxy.test"}
    env.update(environ or {})
    return build_settings(flags or {}, env, file_values=file_values, go_env=go_env or GoEnv())


def test_defaults_serve_locally_from_the_users_cache_folder() -> None:
    s = _build()
    assert s.listen == "127.0.0.1:8080"
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.cache_dir == Path("/home/gopher/.cache/gomodproxy")
    assert s.upstream == "https://proxy.test"
    assert s.sumdb == "sum.golang.org"
    assert s.storage == "filesystem"
    assert s.workers == 1
    assert not s.log_json


def test_xdg_cache_home_is_preferred() -> None:
    s = _build(environ={"XDG_CACHE_HOME": "/var/cache/me"})
    assert s.cache_dir == Path("/var/cache/me/gomodproxy")


def test_precedence_is_defaults_file_env_flags() -> None:
    file_values = {"list-ttl": 10, "negative_ttl": 11, "retries": 5, "listen": "0.0.0.0:9000"}
    environ = {"GOMODPROXY_NEGATIVE_TTL": "22", "GOMODPROXY_RETRIES": "6"}
    s = _build({"retries": "7"}, environ, file_values=file_values)
    assert s.list_ttl == 10.0  # file
    assert s.negative_ttl == 22.0  # env over file
    assert s.retries == 7  # flag over env
    assert s.listen == "0.0.0.0:9000"


def test_go_environment_fills_what_is_not_set_and_go_env_is_asked_only_for_the_rest() -> None:
    go_env = GoEnv({"GOSUMDB": "sum.golang.org", "GOPRIVATE": "*.corp.example"})
    s = _build(environ={"GONOSUMDB": "x.example"}, go_env=go_env)
    assert s.upstream == "https://proxy.test"
    assert s.gonosumdb == "x.example"
    assert s.goprivate == "*.corp.example"
    assert sorted(go_env.asked) == ["GONOPROXY", "GOPRIVATE", "GOSUMDB"]


def test_explicit_settings_win_over_the_go_environment() -> None:
    go_env = GoEnv()
    s = _build({"upstream": "https://mine.test", "sumdb": "off"}, go_env=go_env)
    assert (s.upstream, s.sumdb) == ("https://mine.test", "off")
    assert "GOPROXY" not in go_env.asked


def test_no_upstream_anywhere_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no upstream proxy configured"):
        build_settings({}, {"HOME": "/home/gopher"}, go_env=GoEnv())


def test_upstream_from_go_env_when_the_variable_is_unset() -> None:
    s = build_settings(
        {}, {"HOME": "/h"}, go_env=GoEnv({"GOPROXY": "https://from-go-env.test,direct"})
    )
    assert s.upstream == "https://from-go-env.test,direct"


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        ({"listen": "8080"}, {}, "HOST:PORT"),
        ({"listen": "127.0.0.1:99999"}, {}, "0..65535"),
        ({"listen": ":8080"}, {}, "host is missing"),
        ({"workers": "0"}, {}, "at least 1"),
        ({"workers": "two"}, {}, "--workers"),
        ({"list-ttl": "-1"}, {}, "must not be negative"),
        ({"fetch-timeout": "0"}, {}, "more than 0"),
        ({}, {"GOMODPROXY_LOG_JSON": "maybe"}, "GOMODPROXY_LOG_JSON"),
        ({"tls-cert": "cert.pem"}, {}, "go together"),
        ({"path-prefix": "goproxy"}, {}, "path-prefix"),
        ({"path-prefix": "/goproxy/"}, {}, "path-prefix"),
        ({"path-prefix": "/a/../b"}, {}, "path-prefix"),
        ({"instance-id": "a b"}, {}, "instance-id"),
    ],
)
def test_invalid_values_fail_at_startup_naming_the_option(
    flags: Mapping[str, object], environ: Mapping[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _build(flags, environ)


def test_unknown_file_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'cache-folder'"):
        _build(file_values={"cache-folder": "/x"})


def test_tls_files_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a readable file"):
        _build({"tls-cert": str(tmp_path / "c.pem"), "tls-key": str(tmp_path / "k.pem")})


def test_booleans_from_env_and_file() -> None:
    assert _build(environ={"GOMODPROXY_LOG_JSON": "yes"}).log_json
    assert _build(file_values={"log-json": True}).log_json
    assert not _build({"log-json": False}, {"GOMODPROXY_LOG_JSON": "1"}).log_json


def test_h77_connection_limits_default_and_come_from_file_env_and_flags() -> None:
    s = _build()
    assert (s.header_timeout, s.keepalive_timeout) == (10.0, 75.0)
    assert (s.max_connections, s.max_connections_per_client) == (0, 128)  # 0: from ulimit -n
    file_values = {"header-timeout": 5, "keepalive_timeout": 30, "max-connections": 300}
    environ = {"GOMODPROXY_KEEPALIVE_TIMEOUT": "20", "GOMODPROXY_MAX_CONNECTIONS_PER_CLIENT": "8"}
    s = _build({"max-connections": "400"}, environ, file_values=file_values)
    assert s.header_timeout == 5.0  # file
    assert s.keepalive_timeout == 20.0  # env over file
    assert s.max_connections == 400  # flag over file
    assert s.max_connections_per_client == 8  # env
    assert _build({"keepalive-timeout": "0"}).keepalive_timeout == 0.0  # no keep-alive


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"header-timeout": "0"}, "--header-timeout must be more than 0"),
        ({"keepalive-timeout": "-1"}, "--keepalive-timeout must not be negative"),
        ({"max-connections": "-1"}, "--max-connections must not be negative"),
        ({"max-connections": "1.5"}, "--max-connections"),
        ({"max-connections-per-client": "0"}, "--max-connections-per-client must be at least 1"),
    ],
)
def test_h77_invalid_connection_limits_fail_at_startup(
    flags: Mapping[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _build(flags)


def test_toml_file_is_read_and_errors_name_it(tmp_path: Path) -> None:
    good = tmp_path / "proxy.toml"
    good.write_text('listen = "127.0.0.1:9999"\nlist-ttl = 5\n')
    assert load_toml(good) == {"listen": "127.0.0.1:9999", "list-ttl": 5}
    bad = tmp_path / "bad.toml"
    bad.write_text("listen = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")


def test_every_option_has_an_env_variable_and_a_flag_in_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in OPTIONS:
        assert "--" + option.name in text
        assert env_name(option.name) in text
    assert env_name("cache-dir") == "GOMODPROXY_CACHE_DIR"
    assert "--config FILE" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"upstream": "ftp://x.test"}, "invalid --upstream"),
        ({"upstream": ","}, "no entries"),
        ({"sumdb": "unknown.example"}, "invalid --sumdb"),
        ({"upstream": "http://127.0.0.1:8080"}, "is this proxy itself"),
        ({"upstream": "http://localhost:8080/prefix", "listen": "0.0.0.0:8080"}, "itself"),
    ],
)
def test_g_check_settings_refuses_bad_upstreams_and_databases(
    flags: Mapping[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_settings(_build(flags))


def test_check_settings_parses_the_lists() -> None:
    plan = check_settings(
        _build({"upstream": "https://a.test|https://b.test,direct", "goprivate": "corp.example"})
    )
    assert plan.proxies.proxy_urls == ("https://a.test", "https://b.test")
    assert plan.private.is_nosumdb("corp.example/x")
    assert plan.sumdb is not None
    assert plan.sumdb.name == "sum.golang.org"
    assert check_settings(_build({"sumdb": "off"})).sumdb is None


def test_hedge_after_is_off_by_default_and_refuses_a_negative_delay() -> None:
    assert _build({}).hedge_after == 0
    assert _build({"hedge-after": "150"}).hedge_after == 150
    with pytest.raises(ConfigError, match="--hedge-after must not be negative"):
        _build({"hedge-after": "-1"})
