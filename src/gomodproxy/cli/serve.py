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

from gomodproxy.admin.configcheck import ConfigInput, check_config
from gomodproxy.assembly import (
    LIVE_SETTINGS,
    Plan,
    check_settings,
    reload_policy,
    restart_only_changes,
    with_defaults,
)
from gomodproxy.config import OPTIONS, Settings, build_settings, env_name, load_toml
from gomodproxy.errors import ConfigError, ProxyError
from gomodproxy.server.accesslog import JSONFormatter
from gomodproxy.server.app import HIT_LANE_KEY, log_ready, make_app
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
        elif option.kind in (tuple, dict):
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
    given = None
    if args.config is not None:
        flags = {o.attr: getattr(args, o.attr) for o in OPTIONS}
        given = ConfigInput(args.config, dict(os.environ), flags)
    if settings.workers > 1:
        if settings.port == 0:
            raise ConfigError("--workers above 1 needs a fixed port in --listen (not 0)")
        return _run_workers(plan, given)
    asyncio.run(serve(plan, config=given))
    return 0


async def reload_config(plan: Plan, given: ConfigInput, *, trigger: str = "sighup") -> bool:
    """Read the ``--config`` file again (with the same environment and flags) and put its live
    settings (:data:`~gomodproxy.assembly.LIVE_SETTINGS`) in force as one new object; a bad
    file is logged problem by problem, with its line, and the settings in force stay. Settings
    that only a restart changes are named in a warning when the file changed them."""
    report = await asyncio.to_thread(check_config, given)
    new: Plan | None = None
    problems = [str(p) for p in report.problems]
    if report.ok and report.settings is not None:
        try:
            new = await asyncio.to_thread(
                check_settings, with_defaults(report.settings, given.environ)
            )
        except ConfigError as exc:
            problems = [str(exc)]
    if new is None:
        for problem in problems:
            logger.error(
                "config.reload_refused trigger=%s %s; the settings in force stay",
                trigger,
                problem,
            )
        return False
    plan.live.swap(new.live.current)
    logger.info(
        "config.reloaded trigger=%s path=%s live=%s pid=%d",
        trigger,
        given.config_file,
        ",".join(LIVE_SETTINGS),
        os.getpid(),
    )
    changed = restart_only_changes(plan.settings, new.settings)
    if changed:
        logger.warning(
            "config.restart_needed settings=%s: changed in the file, in force at the next start",
            ",".join(name.replace("_", "-") for name in changed),
        )
    return True


async def serve(
    plan: Plan,
    *,
    reuse_port: bool = False,
    on_listening: Callable[[str], None] | None = None,
    config: ConfigInput | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully; SIGHUP reloads the ``--config``
    file's live settings (``config``: how they were given) and the ``--rules`` file."""
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
    listener = Listener(
        runner.server,
        _connection_caps(settings),
        ssl_context=ssl_context,
        lane=app.get(HIT_LANE_KEY),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[bool]] = set()

    async def reload_all() -> bool:
        ok = config is None or await reload_config(plan, config)
        return await reload_policy(plan) and ok

    def on_hangup() -> None:
        task = asyncio.ensure_future(reload_all())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    watcher = asyncio.ensure_future(_watch_rules(plan))
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
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        listener.close()
        await runner.cleanup()


async def _watch_rules(plan: Plan, interval: float = 2.0) -> None:
    """Reload the ``--rules`` file when it changes (its mtime or size), as SIGHUP does."""
    path = plan.settings.rules
    if path is None:
        return

    def stamp() -> tuple[float, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_mtime, st.st_size

    seen = await asyncio.to_thread(stamp)
    while True:
        await asyncio.sleep(interval)
        now = await asyncio.to_thread(stamp)
        if now is not None and now != seen:
            seen = now
            await reload_policy(plan, trigger="change")


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


def _run_workers(plan: Plan, config: ConfigInput | None = None) -> int:
    """Fork ``workers`` processes serving the same port; forward signals; wait for them."""
    folder, owned = _metrics_folder()
    try:
        return _fork_workers(plan, folder, config)
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for old in folder.glob("*.db"):
                old.unlink(missing_ok=True)


def _fork_workers(plan: Plan, metrics_folder: Path, config: ConfigInput | None) -> int:
    children: set[int] = set()
    for _ in range(plan.settings.workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                enable_multiprocess(metrics_folder)
                asyncio.run(serve(plan, reuse_port=True, config=config))
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
    signal.signal(signal.SIGHUP, forward)  # each worker reloads its settings and rules
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
