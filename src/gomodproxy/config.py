"""Settings of the proxy server: one frozen value built from four layers.

Precedence, lowest first: built-in defaults < TOML file (``--config FILE``) < ``GOMODPROXY_*``
environment variables < command-line flags. Every option has the same name everywhere: the flag
``--cache-dir``, the TOML key ``cache-dir`` (or ``cache_dir``), the variable
``GOMODPROXY_CACHE_DIR``. Options left unset take their value from the Go environment where the
go command has one: the upstream from ``GOPROXY``, the checksum database from ``GOSUMDB``, the
private patterns from ``GOPRIVATE``/``GONOPROXY``/``GONOSUMDB`` (the process environment first,
else ``go env``). Everything is validated here, at start-up; a bad value raises
:class:`~gomodproxy.errors.ConfigError` naming the option and the fix.

Pure except :func:`read_go_env` (runs ``go env -json``, the only use of the go command by the
proxy) and :func:`load_toml` (reads the file); both are passed in by the entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from gomodproxy.errors import ConfigError
from gomodproxy.protocol.access import parse_access_rules
from gomodproxy.vcs.credentials import HostCredential, parse_credentials

__all__ = [
    "GO_ENV_NAMES",
    "OPTIONS",
    "Option",
    "Settings",
    "build_settings",
    "default_cache_dir",
    "env_name",
    "load_toml",
    "parse_age",
    "parse_listen",
    "parse_size",
    "read_go_env",
]

#: Go environment variables the proxy takes defaults from.
GO_ENV_NAMES = ("GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its name (flag without ``--``), type, default and help text."""

    name: str
    kind: type
    default: object
    help: str
    metavar: str = ""
    #: For a ``tuple`` option, the type of its items: ``str`` (whitespace-separated in the
    #: environment) or ``Path`` (``os.pathsep``-separated).
    item: type = str

    @property
    def attr(self) -> str:
        """The :class:`Settings` attribute name."""
        return self.name.replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option("listen", str, "127.0.0.1:8080", "address to serve on, HOST:PORT", "HOST:PORT"),
    Option(
        "cache-dir",
        Path,
        None,
        "cache folder (go command cache/download layout); default: "
        "$XDG_CACHE_HOME/gomodproxy or ~/.cache/gomodproxy",
        "DIR",
    ),
    Option("storage", str, "filesystem", "storage backend: filesystem, memory or s3", "NAME"),
    Option(
        "s3-endpoint",
        str,
        "",
        "S3 endpoint URL for --storage s3 (empty: AWS); credentials come from the standard "
        "AWS chain (AWS_* variables, ~/.aws/credentials and config)",
        "URL",
    ),
    Option("s3-bucket", str, "", "bucket of --storage s3", "NAME"),
    Option("s3-prefix", str, "", "key prefix inside the bucket, e.g. goproxy/", "PREFIX"),
    Option("s3-region", str, "", "region of the bucket (default: AWS_REGION)", "REGION"),
    Option(
        "zip-redirect",
        float,
        0.0,
        "with --storage s3: answer a stored zip with a 302 to a presigned S3 URL valid this "
        "many seconds (the client fetches it from S3; the go command checks its hash); never "
        "for private modules (GONOPROXY/GONOSUMDB) or requests carrying credentials; 0: stream "
        "every zip through the proxy",
        "SECONDS",
    ),
    Option(
        "local-cache-mb",
        int,
        0,
        "with --storage s3: keep immutable files (.info, .mod, .zip) in a local LRU disk "
        "cache of this size under cache-dir, so hot files cost no S3 request; 0: none",
        "MIB",
    ),
    Option(
        "redis-url",
        str,
        "",
        "Redis shared by replicas: fetch locks (leases) and the checksum database's tree "
        "head, e.g. redis://127.0.0.1:6379/0",
        "URL",
    ),
    Option(
        "upstream",
        str,
        "",
        "upstream proxies in GOPROXY syntax (',' falls through on 404/410, '|' on any "
        "error); default: GOPROXY from the environment or `go env`",
        "LIST",
    ),
    Option(
        "sumdb",
        str,
        "",
        "checksum database in GOSUMDB syntax ('off' to disable); default: GOSUMDB from "
        "the environment or `go env`, else sum.golang.org",
        "GOSUMDB",
    ),
    Option("gonosumdb", str, "", "module patterns never verified (GONOSUMDB syntax)", "GLOBS"),
    Option("goprivate", str, "", "private module patterns (GOPRIVATE syntax)", "GLOBS"),
    Option("gonoproxy", str, "", "patterns never fetched through upstreams", "GLOBS"),
    Option("tls-cert", Path, None, "TLS certificate chain (PEM); needs --tls-key", "FILE"),
    Option("tls-key", Path, None, "TLS private key (PEM); needs --tls-cert", "FILE"),
    Option("path-prefix", str, "", "serve under this URL path prefix, e.g. /goproxy", "PATH"),
    Option("workers", int, 1, "worker processes sharing the port (SO_REUSEPORT)", "N"),
    Option("list-ttl", float, 60.0, "seconds a list/@latest answer stays fresh", "SECONDS"),
    Option("negative-ttl", float, 60.0, "seconds a not-found answer is remembered", "SECONDS"),
    Option("connect-timeout", float, 10.0, "upstream connect timeout", "SECONDS"),
    Option("read-timeout", float, 30.0, "upstream read timeout (stalled socket)", "SECONDS"),
    Option("fetch-timeout", float, 60.0, "deadline for fetching one small file", "SECONDS"),
    Option("zip-timeout", float, 600.0, "deadline for fetching one module zip", "SECONDS"),
    Option(
        "zip-verify-first",
        bool,
        False,
        "send a zip missing from the cache only once it is verified (a clear 502 instead of "
        "a cut connection when it fails; the first byte comes later)",
        "",
    ),
    Option("retries", int, 2, "upstream retries after 5xx/429/connection errors", "N"),
    Option("hot-cache-mb", int, 64, "memory for hot .info/.mod files, MiB", "MIB"),
    Option("max-fetches", int, 64, "upstream fetches running at once (more wait)", "N"),
    Option(
        "queue-timeout", float, 30.0, "seconds a fetch may wait for a slot before 503", "SECONDS"
    ),
    Option("shutdown-timeout", float, 30.0, "seconds to finish requests on shutdown", "SECONDS"),
    Option(
        "header-timeout",
        float,
        10.0,
        "seconds a client has to send its request headers (and finish the TLS handshake) "
        "before it is disconnected",
        "SECONDS",
    ),
    Option(
        "keepalive-timeout",
        float,
        75.0,
        "seconds an idle keep-alive connection stays open (0: close after each response)",
        "SECONDS",
    ),
    Option(
        "max-connections",
        int,
        0,
        "client connections open at once, per process; 0: from the open-file limit, "
        "(limit - 128) / 2",
        "N",
    ),
    Option(
        "max-connections-per-client",
        int,
        128,
        "connections open at once from one client address, per process",
        "N",
    ),
    Option("instance-id", str, "", "name of this proxy in Via headers (loop detection)", "ID"),
    Option("netrc", Path, None, ".netrc for upstreams (default $NETRC, else ~/.netrc)", "FILE"),
    Option("log-json", bool, False, "write log lines as JSON objects", ""),
    Option(
        "rules",
        Path,
        None,
        "TOML file of per-module rules: deny (403 with a reason), direct or upstream only, "
        "version deny and allow lists; reloaded on SIGHUP or when it changes",
        "FILE",
    ),
    Option(
        "client-auth",
        tuple,
        (),
        "require a credential for module paths matching PATTERNS (GOPRIVATE globs, or "
        "/metrics): PATTERNS=sha256:HEX (a token's SHA-256, as bearer token or basic-auth "
        "password) or PATTERNS=USER:sha256:HEX (repeatable; a TOML list)",
        "PATTERNS=HASH",
    ),
    Option(
        "vcs-rewrite",
        tuple,
        (),
        "where private repositories are, PREFIX=URLPREFIX (repeatable; a TOML list; in the "
        "variable separated by spaces): a module path under PREFIX (ending in '/') is cloned "
        "from URLPREFIX plus its next path element (+ .git when that exists)",
        "PREFIX=URL",
    ),
    Option(
        "vcs-cache-dir",
        Path,
        None,
        "folder of the bare git clones of private modules; default: <cache-dir>/.gomodproxy/vcs",
        "DIR",
    ),
    Option(
        "vcs-max-zip-mb",
        int,
        500,
        "largest repository tree (git archive output) read for one module zip, MiB",
        "MIB",
    ),
    Option("vcs-timeout", float, 300.0, "deadline of one git command", "SECONDS"),
    Option(
        "vcs-meta-tags",
        bool,
        False,
        "find private repositories without a --vcs-rewrite rule through go-import meta tags "
        "(https://<module path>?go-get=1), as the go command does; off by default, so the "
        "proxy contacts only the hosts its rules name",
        "",
    ),
    Option(
        "vcs-credentials",
        dict,
        (),
        'tokens and ssh keys per git host: a [vcs-credentials."HOST"] table in the --config '
        "file (user, token or token-file, ssh-key), or HOST=[USER:]@FILE with the token read "
        "from FILE (repeatable; space-separated in the variable)",
        "HOST=@FILE",
    ),
    Option(
        "vcs-ssh-key",
        Path,
        None,
        "private key for ssh repository URLs of hosts without their own ssh-key (given with "
        "IdentitiesOnly=yes, batch mode)",
        "FILE",
    ),
    Option(
        "vcs-known-hosts",
        Path,
        None,
        "known_hosts file the host keys of ssh repository URLs are checked against (strictly; "
        "default: ssh's own known_hosts files)",
        "FILE",
    ),
    Option(
        "vcs-internal-hosts",
        tuple,
        (),
        "host names that go-import meta tags may lead to although they resolve to loopback or "
        "private addresses (a company git server); every other host found through meta tags "
        "must resolve to public addresses (repeatable; a TOML list; space-separated)",
        "HOSTS",
    ),
    Option(
        "ca-file",
        Path,
        None,
        "extra certificate authority (PEM), trusted besides the system's for https upstreams, "
        "the checksum database, git and go-import meta-tag lookups",
        "FILE",
    ),
    Option(
        "cache-max-size",
        str,
        "",
        "evict the least recently used module versions while the cache holds more than this "
        "(e.g. 50GiB, 800MB; empty: no limit)",
        "SIZE",
    ),
    Option(
        "cache-max-age",
        str,
        "",
        "evict module versions nobody asked for in this long (e.g. 90d, 12h; empty: never)",
        "AGE",
    ),
    Option(
        "keep",
        tuple,
        (),
        "go.mod or go.sum file whose module versions are never evicted (repeatable; in the "
        "environment, separated by ':')",
        "FILE",
        Path,
    ),
    Option(
        "breaker-failures",
        int,
        0,
        "failed requests in a row (errors, timeouts) that open an upstream's circuit: it is "
        "then not asked for --breaker-cooldown seconds, then probed; 0: no circuit breaker",
        "N",
    ),
    Option(
        "breaker-cooldown",
        float,
        30.0,
        "seconds an upstream's open circuit stays open before a probe request",
        "SECONDS",
    ),
    Option(
        "hedge-after",
        int,
        0,
        "milliseconds after which a request for a small file (.info, .mod, list, @latest) "
        "still unanswered by an upstream followed by '|' is also sent to the next one (the "
        "first answer wins, the other request is cancelled); 0: no hedged requests",
        "MS",
    ),
    Option(
        "prefetch",
        bool,
        False,
        "run ahead of the go command on a miss: when a client is served a .mod, fetch the "
        ".mod and .info of its requirements in the background (verified and kept as a miss "
        "would be), and once clients download zips, the zips of the modules whose .mod they "
        "asked for; never for private, denied, direct-routed or --client-auth modules",
        "",
    ),
    Option(
        "prefetch-depth",
        int,
        2,
        "levels of requirements prefetched below a .mod a client asked for",
        "N",
    ),
    Option(
        "prefetch-fanout",
        int,
        128,
        "requirements of one go.mod prefetched at most",
        "N",
    ),
    Option(
        "prefetch-concurrency",
        int,
        16,
        "prefetches running at once, zips a quarter of them (they share --max-fetches with "
        "clients' misses)",
        "N",
    ),
    Option(
        "prefetch-budget",
        str,
        "512MiB",
        "bytes prefetched and not yet asked for by a client, at most (a file nobody asks for "
        "within 10 minutes counts as wasted and leaves the budget)",
        "SIZE",
    ),
    Option(
        "prefetch-zips",
        bool,
        True,
        "with --prefetch: also prefetch zips once clients download zips",
        "",
    ),
    Option(
        "faults",
        Path,
        None,
        "fault-drill file (TOML): inject upstream failures on purpose, to rehearse them in "
        "staging (docs/guides/operations.md); refused with --production",
        "FILE",
    ),
    Option(
        "production",
        bool,
        False,
        "mark this proxy as a production one: fault drills (--faults) are refused",
        "",
    ),
)

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1 << 30,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1 << 40,
}
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

_BY_NAME = {o.name: o for o in OPTIONS}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of ``gomodproxy serve``, validated (see the module docstring)."""

    listen: str
    cache_dir: Path
    storage: str
    s3_endpoint: str
    s3_bucket: str
    s3_prefix: str
    s3_region: str
    zip_redirect: float
    local_cache_mb: int
    redis_url: str
    upstream: str
    sumdb: str
    gonosumdb: str
    goprivate: str
    gonoproxy: str
    tls_cert: Path | None
    tls_key: Path | None
    path_prefix: str
    workers: int
    list_ttl: float
    negative_ttl: float
    connect_timeout: float
    read_timeout: float
    fetch_timeout: float
    zip_timeout: float
    zip_verify_first: bool
    retries: int
    hot_cache_mb: int
    max_fetches: int
    queue_timeout: float
    shutdown_timeout: float
    header_timeout: float
    keepalive_timeout: float
    max_connections: int
    max_connections_per_client: int
    instance_id: str
    netrc: Path | None
    log_json: bool
    rules: Path | None
    client_auth: tuple[str, ...]
    vcs_rewrite: tuple[str, ...]
    vcs_cache_dir: Path | None
    vcs_max_zip_mb: int
    vcs_timeout: float
    vcs_meta_tags: bool
    vcs_credentials: tuple[HostCredential, ...]
    vcs_ssh_key: Path | None
    vcs_known_hosts: Path | None
    vcs_internal_hosts: tuple[str, ...]
    ca_file: Path | None
    cache_max_size: str
    cache_max_age: str
    keep: tuple[Path, ...]
    breaker_failures: int
    breaker_cooldown: float
    hedge_after: int
    prefetch: bool
    prefetch_depth: int
    prefetch_fanout: int
    prefetch_concurrency: int
    prefetch_budget: str
    prefetch_zips: bool
    faults: Path | None
    production: bool

    @property
    def host(self) -> str:
        """The address part of ``listen``."""
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        """The port part of ``listen``."""
        return parse_listen(self.listen)[1]

    @property
    def cache_max_bytes(self) -> int | None:
        """``cache-max-size`` in bytes; None when unlimited."""
        return parse_size(self.cache_max_size) if self.cache_max_size else None

    @property
    def prefetch_budget_bytes(self) -> int:
        """``prefetch-budget`` in bytes."""
        return parse_size(self.prefetch_budget)

    @property
    def cache_max_seconds(self) -> float | None:
        """``cache-max-age`` in seconds; None when versions never age out."""
        return parse_age(self.cache_max_age) if self.cache_max_age else None


def env_name(option: str) -> str:
    """``cache-dir`` → ``GOMODPROXY_CACHE_DIR``."""
    return "GOMODPROXY_" + option.upper().replace("-", "_")


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/gomodproxy``, else ``$HOME/.cache/gomodproxy``."""
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "gomodproxy"
    home = environ.get("HOME", "")
    if not home:
        raise ConfigError("cannot find a cache folder: set HOME or XDG_CACHE_HOME, or --cache-dir")
    return Path(home) / ".cache" / "gomodproxy"


def parse_listen(value: str, *, default_host: str = "") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) → (host, port); port 0 picks a free port.

    A missing host is ``default_host`` when one is given (``:8081``), else an error."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ConfigError(f"invalid --listen {value!r}: use HOST:PORT, e.g. 127.0.0.1:8080")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(f"invalid --listen {value!r}: port must be 0..65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host or default_host
    if not host:
        raise ConfigError(f"invalid --listen {value!r}: the host is missing (0.0.0.0 for all)")
    return host, port


def parse_size(text: str) -> int:
    """``50GiB``, ``800MB``, ``1.5T``, ``1024`` (bytes) → bytes; ConfigError otherwise."""
    number, unit = _split_unit(text)
    factor = _SIZE_UNITS.get(unit.lower())
    if number is None or factor is None or number <= 0:
        raise ConfigError(
            f"invalid size {text!r}: give a positive number with an optional unit, e.g. "
            "50GiB, 800MB, 2T (K/M/G/T are powers of 1000, KiB/MiB/GiB/TiB of 1024)"
        )
    return int(number * factor)


def parse_age(text: str) -> float:
    """``90d``, ``12h``, ``30m``, ``2w``, ``3600`` (seconds) → seconds; ConfigError otherwise."""
    number, unit = _split_unit(text)
    factor = _AGE_UNITS.get(unit.lower())
    if number is None or factor is None or number <= 0:
        raise ConfigError(
            f"invalid age {text!r}: give a positive number with an optional unit s, m, h, d "
            "or w, e.g. 90d or 12h"
        )
    return number * factor


def _split_unit(text: str) -> tuple[float | None, str]:
    stripped = text.strip()
    digits = len(stripped) - len(stripped.lstrip("0123456789."))
    try:
        return float(stripped[:digits]), stripped[digits:].strip()
    except ValueError:
        return None, stripped


def load_toml(path: Path) -> dict[str, object]:
    """Read a TOML settings file (keys are option names)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def read_go_env(names: Sequence[str] = GO_ENV_NAMES) -> dict[str, str]:
    """The values ``go env -json NAMES`` prints; empty when the go command is missing."""
    go = shutil.which("go")
    if go is None:
        return {}
    try:
        proc = subprocess.run(
            [go, "env", "-json", *names], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if proc.returncode != 0:
        return {}
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)}


def build_settings(
    flags: Mapping[str, object | None],
    environ: Mapping[str, str],
    *,
    file_values: Mapping[str, object] | None = None,
    file_name: str = "config file",
    go_env: Callable[[Sequence[str]], Mapping[str, str]] = read_go_env,
) -> Settings:
    """Merge defaults < ``file_values`` < ``GOMODPROXY_*`` in ``environ`` < ``flags``.

    ``flags`` maps option names (or attribute names) to values, None meaning "not given".
    ``go_env`` is asked only for Go variables missing from ``environ``.
    """
    values: dict[str, object] = {o.name: o.default for o in OPTIONS}
    for key, raw in (file_values or {}).items():
        option = _BY_NAME.get(key.replace("_", "-"))
        if option is None:
            known = ", ".join(sorted(_BY_NAME))
            raise ConfigError(f"{file_name}: unknown setting {key!r}; known settings: {known}")
        values[option.name] = _coerce(option, raw, f"{file_name}: {key}")
    for option in OPTIONS:
        name = env_name(option.name)
        if name in environ:
            values[option.name] = _coerce(option, environ[name], name)
    for key, raw in flags.items():
        if raw is None:
            continue
        option = _BY_NAME.get(key.replace("_", "-"))
        if option is None:
            raise ConfigError(f"unknown option {key!r}")
        values[option.name] = _coerce(option, raw, "--" + option.name)
    _apply_go_environment(values, environ, go_env)
    if values["cache-dir"] is None:
        values["cache-dir"] = default_cache_dir(environ)
    settings = Settings(**{o.attr: values[o.name] for o in OPTIONS})  # type: ignore[arg-type]
    _validate(settings)
    return settings


def _apply_go_environment(
    values: dict[str, object],
    environ: Mapping[str, str],
    go_env: Callable[[Sequence[str]], Mapping[str, str]],
) -> None:
    wanted = {"upstream": "GOPROXY", "sumdb": "GOSUMDB", "gonosumdb": "GONOSUMDB"}
    wanted |= {"goprivate": "GOPRIVATE", "gonoproxy": "GONOPROXY"}
    missing = [var for opt, var in wanted.items() if not values[opt] and not environ.get(var)]
    from_go = dict(go_env(missing)) if missing else {}
    for opt, var in wanted.items():
        if not values[opt]:
            values[opt] = environ.get(var) or from_go.get(var, "")
    if not values["upstream"]:
        raise ConfigError(
            "no upstream proxy configured: pass --upstream URL (GOPROXY syntax), set "
            "GOMODPROXY_UPSTREAM, or set GOPROXY"
        )
    if not values["sumdb"]:
        values["sumdb"] = "sum.golang.org"


def _coerce(option: Option, raw: object, where: str) -> object:
    kind = option.kind
    if kind is dict:
        return parse_credentials(raw, where)
    try:
        if kind is tuple and option.item is str:  # of strings: a list, or spaces (env)
            if isinstance(raw, str):
                return tuple(raw.split())
            if isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw):
                return tuple(raw)
            raise ValueError("not a list of strings")
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("use true or false")
        if kind is Path:
            text = str(raw)
            return Path(os.path.expanduser(text)) if text else None
        if kind is tuple:  # of paths: a list (file, flags) or ':'-separated text (env)
            items = raw.split(os.pathsep) if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple):
                raise ValueError("give a list of file names")
            return tuple(Path(os.path.expanduser(str(i))) for i in items if str(i))
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError("not a whole number")
            return int(raw)  # type: ignore[call-overload]
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError("not a number")
            return float(raw)  # type: ignore[arg-type]
        if not isinstance(raw, str):
            raise ValueError("not a string")
        return raw
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid value {raw!r} for {where}: {exc}") from None


def _validate(s: Settings) -> None:
    parse_listen(s.listen)
    if s.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {s.workers}")
    for f in fields(s):
        value = getattr(s, f.name)
        if isinstance(value, float) and value < 0:
            raise ConfigError(f"--{f.name.replace('_', '-')} must not be negative")
    for name in ("fetch_timeout", "zip_timeout", "connect_timeout", "read_timeout"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be more than 0 seconds")
    if s.vcs_max_zip_mb < 1:
        raise ConfigError(f"--vcs-max-zip-mb must be at least 1, not {s.vcs_max_zip_mb}")
    if s.vcs_timeout <= 0:
        raise ConfigError("--vcs-timeout must be more than 0 seconds")
    if s.retries < 0 or s.hot_cache_mb < 0:
        raise ConfigError("--retries and --hot-cache-mb must not be negative")
    if s.zip_redirect and s.storage != "s3":
        raise ConfigError("--zip-redirect needs --storage s3 (presigned URLs of the bucket)")
    if s.local_cache_mb < 0:
        raise ConfigError(f"--local-cache-mb must not be negative, not {s.local_cache_mb}")
    if s.local_cache_mb and s.storage != "s3":
        raise ConfigError("--local-cache-mb is for --storage s3 (the other backends are local)")
    if s.max_fetches < 1:
        raise ConfigError(f"--max-fetches must be at least 1, not {s.max_fetches}")
    if s.header_timeout <= 0:
        raise ConfigError("--header-timeout must be more than 0 seconds")
    if s.max_connections < 0:
        raise ConfigError(
            f"--max-connections must not be negative (0: from the open-file limit), "
            f"not {s.max_connections}"
        )
    if s.max_connections_per_client < 1:
        raise ConfigError(
            f"--max-connections-per-client must be at least 1, not {s.max_connections_per_client}"
        )
    parse_access_rules(s.client_auth)
    if (s.tls_cert is None) != (s.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
    for name in ("tls_cert", "tls_key", "ca_file", "rules", "vcs_ssh_key", "vcs_known_hosts"):
        path = getattr(s, name)
        if path is not None and not path.is_file():
            raise ConfigError(f"--{name.replace('_', '-')} {path} is not a readable file")
    prefix = s.path_prefix
    if prefix and (
        not prefix.startswith("/")
        or prefix.endswith("/")
        or any(e in ("", ".", "..") for e in prefix[1:].split("/"))
    ):
        raise ConfigError(
            f"--path-prefix {prefix!r} must look like /name or /a/b (no trailing slash)"
        )
    for name, parse in (("cache-max-size", parse_size), ("cache-max-age", parse_age)):
        value = getattr(s, name.replace("-", "_"))
        if value:
            try:
                parse(value)
            except ConfigError as exc:
                raise ConfigError(f"--{name}: {exc}") from None
    for path in s.keep:
        if not path.is_file():
            raise ConfigError(f"--keep {path} is not a readable file (a go.mod or go.sum)")
    if s.breaker_failures < 0:
        raise ConfigError(
            f"--breaker-failures must not be negative (0: no breaker), not {s.breaker_failures}"
        )
    if s.breaker_cooldown <= 0:
        raise ConfigError("--breaker-cooldown must be more than 0 seconds")
    if s.hedge_after < 0:
        raise ConfigError(
            f"--hedge-after must not be negative (milliseconds; 0: no hedging), not {s.hedge_after}"
        )
    for name in ("prefetch-depth", "prefetch-fanout", "prefetch-concurrency"):
        value = getattr(s, name.replace("-", "_"))
        if value < 1:
            raise ConfigError(f"--{name} must be at least 1, not {value} (--no-prefetch: none)")
    try:
        parse_size(s.prefetch_budget)
    except ConfigError as exc:
        raise ConfigError(f"--prefetch-budget: {exc}") from None
    if s.faults is not None and s.production:
        raise ConfigError(
            f"--faults {s.faults} is refused on a --production proxy: fault drills are for "
            "staging; drop --faults (or GOMODPROXY_FAULTS, the faults key) or --production"
        )
    if s.faults is not None and not s.faults.is_file():
        raise ConfigError(f"--faults {s.faults} is not a readable file")
    if s.instance_id and not all(c.isalnum() or c in "-._" for c in s.instance_id):
        raise ConfigError("--instance-id may only hold letters, digits, '-', '.' and '_'")
