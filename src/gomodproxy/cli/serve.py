"""``gomodproxy serve``: run the caching GOPROXY server.

With no arguments it serves on 127.0.0.1:8080 from a cache in the user's cache folder, with the
upstreams and checksum database of the Go environment. Every option is also a TOML key
(``--config FILE``) and a ``GOMODPROXY_*`` variable; see ``gomodproxy serve --help``.
``--workers N`` forks N processes sharing the port (SO_REUSEPORT) and the cache folder (the
storage's file locks keep them from fetching the same file twice) and one folder of metric values
(the Prometheus client's multi-process mode, a private temporary folder made by the parent and
removed when it exits), so one scrape of ``/metrics`` sees every worker. SIGTERM or SIGINT stops
accepting connections and lets requests in progress finish (``--shutdown-timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import shutil
import signal
import ssl
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from aiohttp import web

from gomodproxy.assembly import Plan, check_settings, with_defaults
from gomodproxy.config import OPTIONS, Settings, build_settings, env_name, load_toml
from gomodproxy.errors import ConfigError, ProxyError
from gomodproxy.server.accesslog import JSONFormatter
from gomodproxy.server.app import log_ready, make_app
from gomodproxy.server.connlimits import ConnectionCaps, connection_cap
from gomodproxy.server.listener import Listener
from gomodproxy.server.metrics import MULTIPROC_ENV, enable_multiprocess, mark_worker_gone

__all__ = ["register", "run", "serve", "settings_from_args"]

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` subcommand."""
    parser = sub.add_parser(
        "serve",
        help="run the caching GOPROXY server",
        description=(
            "Serve the GOPROXY protocol from a local cache filled from upstream proxies; "
            "every module file is verified against the checksum database before it is cached. "
            "Precedence: defaults < --config file < GOMODPROXY_* variables < flags."
        ),
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file of settings (keys as the flags)"
    )
    for option in OPTIONS:
        flag = "--" + option.name
        env = f" [{env_name(option.name)}]"
        default = "" if option.default in (None, "", False) else f" (default {option.default})"
        if option.kind is bool:
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=option.help + env,
            )
        elif option.kind is tuple:
            parser.add_argument(
                flag, action="append", default=None, metavar=option.metavar, help=option.help + env
            )
        else:
            parser.add_argument(
                flag,
                default=None,
                metavar=option.metavar or None,
                help=option.help + default + env,
            )
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Build the settings from parsed flags, the optional TOML file and the environment."""
    file_values = load_toml(args.config) if args.config is not None else None
    flags = {o.name: getattr(args, o.attr) for o in OPTIONS}
    return build_settings(
        flags, environ, file_values=file_values, file_name=str(args.config or "config file")
    )


def run(args: argparse.Namespace) -> int:
    """The command body: settings, logging, then one process or several workers."""
    settings = settings_from_args(args, os.environ)
    if settings.log_json:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JSONFormatter())
    plan = check_settings(with_defaults(settings, os.environ))
    if settings.workers > 1:
        if settings.port == 0:
            raise ConfigError("--workers above 1 needs a fixed port in --listen (not 0)")
        return _run_workers(plan)
    asyncio.run(serve(plan))
    return 0


async def serve(
    plan: Plan, *, reuse_port: bool = False, on_listening: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully."""
    settings = plan.settings
    ssl_context = _ssl_context(settings)
    app = make_app(plan, instance_id=settings.instance_id)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=settings.shutdown_timeout,
        keepalive_timeout=settings.keepalive_timeout,
    )
    await runner.setup()
    assert runner.server is not None
    listener = Listener(runner.server, _connection_caps(settings), ssl_context=ssl_context)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await listener.start(settings.host, settings.port, reuse_port=reuse_port)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ConfigError(f"cannot listen on {settings.listen}: {reason}") from exc
        url = _site_url(listener, settings, ssl_context is not None)
        logger.info("proxy.listening url=%s pid=%d", url, os.getpid())
        log_ready(plan, url)
        # One write for the whole line: workers share stdout, and print() writes the text and
        # the newline separately when output is unbuffered (PYTHONUNBUFFERED), so two workers'
        # lines could interleave.
        sys.stdout.write(f"gomodproxy: serving {url}\n")
        sys.stdout.flush()
        if on_listening is not None:
            on_listening(url)
        await stop.wait()
        logger.info("proxy.stopping pid=%d", os.getpid())
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        listener.close()
        await runner.cleanup()


def _connection_caps(settings: Settings) -> ConnectionCaps:
    """The connection caps of this process: ``max-connections`` (else derived from the
    open-file limit, see :func:`~gomodproxy.server.connlimits.connection_cap`) and
    ``max-connections-per-client``."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = None if soft == resource.RLIM_INFINITY else soft
    total = connection_cap(settings.max_connections, nofile)
    fitting = connection_cap(0, nofile)
    if nofile is not None and total > fitting:
        logger.warning(
            "proxy.max_connections_above_fd_limit max_connections=%d nofile=%d fitting=%d: "
            "raise the open-file limit (ulimit -n) or lower --max-connections",
            total,
            soft,
            fitting,
        )
    logger.info(
        "proxy.limits max_connections=%d per_client=%d header_timeout=%g "
        "keepalive_timeout=%g nofile=%s",
        total,
        settings.max_connections_per_client,
        settings.header_timeout,
        settings.keepalive_timeout,
        "unlimited" if nofile is None else nofile,
    )
    return ConnectionCaps(total, settings.max_connections_per_client, settings.header_timeout)


def _site_url(listener: Listener, settings: Settings, tls: bool) -> str:
    port = settings.port
    if listener.sockets:
        port = listener.sockets[0].getsockname()[1]
    host = settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}{settings.path_prefix}"


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load --tls-cert/--tls-key: {exc}") from exc
    return context


def _metrics_folder() -> tuple[Path, bool]:
    """The folder of the workers' metric values, emptied, and whether it is ours to remove.

    ``PROMETHEUS_MULTIPROC_DIR`` names it when set (kept, its values removed); otherwise a
    private temporary folder (removed at exit).
    """
    named = os.environ.get(MULTIPROC_ENV)
    if named:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink(missing_ok=True)
        return folder, False
    return Path(tempfile.mkdtemp(prefix="gomodproxy-metrics-")), True


def _run_workers(plan: Plan) -> int:
    """Fork ``workers`` processes serving the same port; forward signals; wait for them."""
    folder, owned = _metrics_folder()
    try:
        return _fork_workers(plan, folder)
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for old in folder.glob("*.db"):
                old.unlink(missing_ok=True)


def _fork_workers(plan: Plan, metrics_folder: Path) -> int:
    children: set[int] = set()
    for _ in range(plan.settings.workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                enable_multiprocess(metrics_folder)
                asyncio.run(serve(plan, reuse_port=True))
            except ProxyError as exc:  # e.g. the port is taken: one line, as main() prints it
                print(f"gomodproxy: {exc}", file=sys.stderr, flush=True)
                code = 1
            except BaseException:
                logger.exception("worker.crashed pid=%d", os.getpid())
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children.add(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while children:
        pid, code = os.wait()
        if pid not in children:
            continue
        children.discard(pid)
        # Its gauges of work in flight no longer count; its counters still do.
        mark_worker_gone(pid, metrics_folder)
        if os.waitstatus_to_exitcode(code) != 0:
            status = 1
    print("gomodproxy: all workers stopped", file=sys.stderr)
    return status
