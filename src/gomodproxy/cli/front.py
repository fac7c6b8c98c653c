"""``gomodproxy front nginx``: the nginx configuration of the optional static front.

nginx sends the verified, immutable module files (``.info``, ``.mod``, ``.zip`` of canonical
versions) straight from the cache folder and passes everything else, and every miss, to
gomodproxy (:mod:`gomodproxy.admin.nginxfront` renders the file). The settings are those of
``serve`` (the same flags, ``--config`` file and ``GOMODPROXY_*`` variables): ``--listen`` is
where nginx reaches gomodproxy, ``--cache-dir`` the folder nginx reads; the ``--rules`` file,
``--client-auth``, the private patterns and the deny entries of ``cache rm`` name what nginx must
never send itself.

Refused: a store other than a filesystem folder, gomodproxy serving TLS (terminate TLS in
nginx), and, unless ``--allow-eviction``, ``--cache-max-size``/``--cache-max-age`` (nginx
records no access time, so the most used files would look unused). With ``--output FILE`` the
file is replaced atomically only when its text changed, and ``--reload-command`` then runs (for
example ``nginx -s reload``); run it again whenever the rules or settings change.
``--open-file-seconds`` (2) bounds how long nginx may keep sending a file ``cache rm`` deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
from pathlib import Path

from gomodproxy.admin.nginxfront import FrontSpec, front_passes, render_nginx_front
from gomodproxy.assembly import check_settings, load_policy
from gomodproxy.cache.denylist import DENY_PREFIX, parse_deny_key
from gomodproxy.cli.cache import opened_store
from gomodproxy.cli.settingflags import add_setting_flags
from gomodproxy.config import OPTIONS, Settings, build_settings, load_toml
from gomodproxy.errors import ConfigError
from gomodproxy.protocol.access import parse_access_rules
from gomodproxy.storage.fswrite import write_file_atomic

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``front`` subcommand with ``nginx``."""
    parser = sub.add_parser(
        "front",
        help="generate the configuration of a static front (nginx) for the cache folder",
        description="Generate the configuration of a web server that sends cached immutable "
        "module files itself and passes everything else to gomodproxy.",
    )
    actions = parser.add_subparsers(dest="front_command", metavar="SERVER")
    actions.required = True
    nginx = actions.add_parser(
        "nginx",
        help="nginx configuration (for its http block) serving hits from --cache-dir",
        description="Print (or write to --output) an nginx configuration that sends "
        "@v/<canonical version>.info|.mod|.zip straight from --cache-dir and passes every "
        "other request and every miss to gomodproxy at --listen. Give the settings serve "
        "runs with (same flags, --config and GOMODPROXY_* variables).",
    )
    nginx.add_argument(
        "--front-listen",
        default="80",
        metavar="ADDR",
        help="nginx 'listen' parameter of the front (default 80)",
    )
    nginx.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the file here")
    nginx.add_argument(
        "--reload-command",
        metavar="CMD",
        help="with --output: run CMD (e.g. 'nginx -s reload') when the file changed",
    )
    nginx.add_argument(
        "--open-file-seconds",
        type=int,
        default=2,
        metavar="N",
        help="nginx keeps files open and checks their names again after N seconds, so a "
        "file 'cache rm' deleted is sent for at most N seconds more (default 2, as "
        "gomodproxy's own deny refresh); 0: no open_file_cache, every hit opens its file",
    )
    nginx.add_argument(
        "--allow-eviction",
        action="store_true",
        help="generate even with --cache-max-size/--cache-max-age (files sent by nginx then "
        "count as never used and are evicted first)",
    )
    nginx.add_argument("--config", type=Path, metavar="FILE", help="TOML file of settings")
    flags = nginx.add_argument_group("settings of gomodproxy serve")
    add_setting_flags(flags)
    nginx.set_defaults(func=_run_nginx)


def _settings(args: argparse.Namespace) -> Settings:
    file_values = load_toml(args.config) if args.config is not None else None
    flags = {o.name: getattr(args, o.attr) for o in OPTIONS}
    return build_settings(
        flags, os.environ, file_values=file_values, file_name=str(args.config or "config file")
    )


def _backend(settings: Settings) -> str:
    host, port = settings.host, settings.port
    if port == 0:
        raise ConfigError("the front needs gomodproxy on a fixed port: give --listen HOST:PORT")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_fits(settings: Settings, allow_eviction: bool) -> None:
    if settings.storage != "filesystem":
        raise ConfigError(
            f"the static front reads a cache folder; storage {settings.storage!r} has none "
            "(use --storage filesystem, or no front)"
        )
    if settings.tls_cert is not None:
        raise ConfigError(
            "gomodproxy serves TLS (--tls-cert): run it on plain HTTP on loopback behind the "
            "front and terminate TLS in nginx (deploy/nginx/gomodproxy-tls.conf)"
        )
    limits = [
        name
        for name, value in (
            ("--cache-max-size", settings.cache_max_size),
            ("--cache-max-age", settings.cache_max_age),
        )
        if value
    ]
    if limits and not allow_eviction:
        raise ConfigError(
            f"{' and '.join(limits)} evict the versions used least recently, but files nginx "
            "sends record no access time, so the most used ones would go first: remove the "
            "limit, or give --allow-eviction to accept that"
        )
    if limits:
        print(
            f"gomodproxy: warning: {' and '.join(limits)} will evict files nginx sends as if "
            "nobody used them (nginx records no access time)",
            file=sys.stderr,
        )


def _denied(settings: Settings) -> tuple[tuple[str, str], ...]:
    """The deny entries ``cache rm`` left in the folder (none when it does not exist yet)."""
    if not settings.cache_dir.is_dir():
        return ()

    async def read() -> list[str]:
        async with opened_store(settings) as opened:
            return await opened.store.list(DENY_PREFIX)

    keys = asyncio.run(read())
    return tuple(t for t in (parse_deny_key(k) for k in keys) if t is not None)


def _command(args: argparse.Namespace, settings: Settings) -> str:
    parts = ["gomodproxy front nginx", "--cache-dir", str(settings.cache_dir)]
    parts += ["--listen", settings.listen, "--front-listen", args.front_listen]
    if args.config is not None:
        parts += ["--config", str(args.config)]
    if settings.rules is not None:
        parts += ["--rules", str(settings.rules)]
    return " ".join(shlex.quote(p) if i else p for i, p in enumerate(parts))


def _run_nginx(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _check_fits(settings, args.allow_eviction)
    plan = check_settings(settings)
    cache_dir = settings.cache_dir.resolve()
    rules = load_policy(settings.rules).rules if settings.rules is not None else ()
    access = parse_access_rules(settings.client_auth)
    private = plan.private
    passes = front_passes(
        client_auth=tuple(rule.patterns for rule in access),
        private=(
            ("GOPRIVATE", private.goprivate),
            ("GONOPROXY", private.gonoproxy),
            ("GONOSUMDB", private.gonosumdb),
        ),
        vcs_prefixes=tuple(rule.prefix for rule in plan.vcs_rules),
        rules=rules,
        denied=_denied(settings),
    )
    spec = FrontSpec(
        cache_dir=cache_dir,
        backend=_backend(settings),
        listen=args.front_listen,
        path_prefix=settings.path_prefix,
        passed=passes,
        open_file_seconds=max(0, args.open_file_seconds),
        command=_command(args, settings),
    )
    try:
        text = render_nginx_front(spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.output is None:
        sys.stdout.write(text)
        return 0
    return _write(args.output, text, args.reload_command)


def _write(output: Path, text: str, reload_command: str | None) -> int:
    try:
        unchanged = output.read_text(encoding="utf-8") == text
    except FileNotFoundError:
        unchanged = False
    except OSError as exc:
        raise ConfigError(f"cannot read {output}: {exc.strerror}") from None
    if unchanged:
        print(f"gomodproxy: {output} is up to date", file=sys.stderr)
        return 0
    try:
        write_file_atomic(output, text.encode())
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror}") from None
    print(f"gomodproxy: wrote {output}", file=sys.stderr)
    if reload_command:
        done = subprocess.run(shlex.split(reload_command), check=False)
        if done.returncode != 0:
            raise ConfigError(
                f"{output} was written but {reload_command!r} exited with "
                f"{done.returncode}: fix the problem it printed and run it again"
            )
    return 0
