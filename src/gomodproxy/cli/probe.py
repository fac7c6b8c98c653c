"""``gomodproxy probe``: measure and audit Go module mirrors.

``gomodproxy probe --mirrors LIST --modules FILE [--budget N] [--concurrency N]
[--time-limit SECONDS] [--sumdb GOSUMDB] [--json FILE] [--html FILE]``
``gomodproxy probe ... --watch INTERVAL --metrics-listen HOST:PORT [--window N]``

Asks every mirror the same requests (list, @latest, .info, .mod, .zip, then the files again
warm), times them, and checks every .mod and .zip against the go.sum given and against the
checksum database. Shows its progress while it runs when standard output is a terminal (not
with --json -), then prints a table; ``--json FILE`` (``-``: stdout) writes the report described
in docs/guides/probe.md; ``--html FILE`` a self-contained page with charts. ``--watch``
probes in rounds until SIGTERM or SIGINT (exit 0) and serves Prometheus metrics over the last
``--window`` rounds at http://HOST:PORT/metrics.

Exit status: 0 every mirror genuine; 1 a mirror served tampered content; 3 a mirror could not
be proven (stale, unreachable, unverified); 2 wrong arguments or unusable input files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from gomodproxy.config import read_go_env
from gomodproxy.errors import ConfigError
from gomodproxy.module.goproxy import parse_goproxy
from gomodproxy.probe import (
    ProbeInputError,
    ProbeResult,
    ProbeSettings,
    build_report,
    format_table,
    parse_mirrors,
    parse_modules,
    planned_requests,
    render_html,
    run_probe,
)
from gomodproxy.probe.progress import TerminalProgress
from gomodproxy.probe.watch import WatchSettings, watch
from gomodproxy.sumdb.gosumdb import KNOWN_GOSUMDB, parse_gosumdb

__all__ = ["probe_settings", "register"]

# The go command's default GOSUMDB: the one database it knows by name.
_DEFAULT_GOSUMDB = next(iter(KNOWN_GOSUMDB))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``probe`` command."""
    parser = subparsers.add_parser(
        "probe",
        help="measure and audit Go module mirrors",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mirrors",
        required=True,
        help="GOPROXY-style list of mirror URLs, or @FILE with one 'name url' a line",
    )
    parser.add_argument(
        "--modules", required=True, help="a go.sum, a go.mod, or lines of module@version"
    )
    parser.add_argument(
        "--budget", type=_positive_int, default=1000, help="most requests in total (default 1000)"
    )
    parser.add_argument(
        "--concurrency", type=_positive_int, default=4, help="requests at once (default 4)"
    )
    parser.add_argument(
        "--time-limit", type=_positive_float, default=None, help="stop after SECONDS"
    )
    parser.add_argument(
        "--request-timeout",
        type=_positive_float,
        default=30.0,
        help="seconds one request may take (zips: ten times that; default 30)",
    )
    parser.add_argument(
        "--sumdb",
        default=None,
        help="checksum database as GOSUMDB takes it (default: $GOSUMDB, else go env's GOSUMDB, "
        "else Go's default); off: nothing is proven against a database",
    )
    parser.add_argument(
        "--sumdb-via",
        default=None,
        metavar="LIST",
        help="where a checksum database named without URL is looked for, in GOPROXY syntax, as "
        "the go command looks (default: $GOPROXY, else go env's GOPROXY, else direct); its "
        "answers are proven, so a proxy in between cannot forge them",
    )
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="write the JSON report (-: stdout)"
    )
    parser.add_argument(
        "--html",
        default=None,
        metavar="FILE",
        help="write a self-contained HTML report with charts (opens offline)",
    )
    parser.add_argument(
        "--watch",
        type=_positive_float,
        default=None,
        metavar="INTERVAL",
        help="probe in rounds for ever, INTERVAL seconds apart (needs --metrics-listen)",
    )
    parser.add_argument(
        "--metrics-listen",
        default=None,
        metavar="HOST:PORT",
        help="with --watch: serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any)",
    )
    parser.add_argument(
        "--window",
        type=_positive_int,
        default=10,
        help="with --watch: rounds the verdicts and rates are judged over (default 10)",
    )
    parser.set_defaults(func=run)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ProbeInputError(f"cannot read {path}: {exc.strerror}") from exc


def _go_variables(names: tuple[str, ...], args: argparse.Namespace) -> dict[str, str]:
    """GOSUMDB and GOPROXY as the go command takes them: the environment, else ``go env``
    (its env file), asked only for what the flags and the environment leave open."""
    given = {"GOSUMDB": args.sumdb, "GOPROXY": args.sumdb_via}
    found = {n: os.environ[n] for n in names if n in os.environ}
    missing = [n for n in names if n not in found and given.get(n) is None]
    if missing:
        found.update({n: v for n, v in read_go_env(missing).items() if n in missing})
    return found


def probe_settings(args: argparse.Namespace) -> ProbeSettings:
    mirrors_arg = str(args.mirrors)
    if mirrors_arg.startswith("@"):
        name = mirrors_arg[1:]
        text = _read(name).decode("utf-8", "replace")
        mirrors = parse_mirrors("", file_text=text, filename=name)
    else:
        mirrors = parse_mirrors(mirrors_arg)
    targets = parse_modules(_read(str(args.modules)), str(args.modules))
    go_vars = _go_variables(("GOSUMDB", "GOPROXY"), args)
    gosumdb = args.sumdb if args.sumdb is not None else go_vars.get("GOSUMDB", "")
    try:
        sumdb = parse_gosumdb(gosumdb or _DEFAULT_GOSUMDB)
    except ConfigError as exc:
        raise ProbeInputError(f"--sumdb: {exc}") from exc
    via = args.sumdb_via if args.sumdb_via is not None else go_vars.get("GOPROXY", "")
    try:
        parse_goproxy(via or "direct")
    except ConfigError as exc:
        raise ProbeInputError(f"--sumdb-via: {exc}") from exc
    return ProbeSettings(
        mirrors=tuple(mirrors),
        targets=targets,
        budget=int(args.budget),
        sumdb=sumdb,
        sumdb_via=via or "direct",
        concurrency=int(args.concurrency),
        time_limit=args.time_limit,
        request_timeout=float(args.request_timeout),
    )


async def _probe_and_write(
    settings: ProbeSettings, html: str | None, *, progress: bool
) -> dict[str, Any]:
    if progress:
        planned, per_mirror = planned_requests(settings)
        with TerminalProgress(planned, per_mirror, sys.stdout) as shown:
            result: ProbeResult = await run_probe(settings, shown.record)
    else:
        result = await run_probe(settings)
    report = build_report(settings, result)
    if html is not None:
        await asyncio.to_thread(Path(html).write_text, render_html(report), encoding="utf-8")
    return report


def _watch_settings(args: argparse.Namespace) -> WatchSettings | None:
    if args.watch is None and args.metrics_listen is None:
        return None
    if args.watch is None or args.metrics_listen is None:
        raise ProbeInputError("--watch and --metrics-listen go together")
    if args.json is not None or args.html is not None:
        raise ProbeInputError("--watch writes no --json or --html report; scrape the metrics")
    host, _, port = str(args.metrics_listen).rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ProbeInputError(f"--metrics-listen: not HOST:PORT: {args.metrics_listen!r}")
    return WatchSettings(float(args.watch), host.strip("[]"), int(port), int(args.window))


def _print_url(url: str) -> None:
    sys.stdout.write(f"gomodproxy: probe metrics at {url}\n")
    sys.stdout.flush()


async def _watch_until_stopped(settings: ProbeSettings, watch_settings: WatchSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await watch(settings, watch_settings, stop, _print_url)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run(args: argparse.Namespace) -> int:
    """Run the probe; returns the exit status."""
    try:
        settings = probe_settings(args)
        watch_settings = _watch_settings(args)
    except ProbeInputError as exc:
        print(f"gomodproxy: {exc}", file=sys.stderr)
        return 2
    if watch_settings is not None:
        try:
            asyncio.run(_watch_until_stopped(settings, watch_settings))
        except OSError as exc:
            print(f"gomodproxy: cannot listen on {args.metrics_listen}: {exc}", file=sys.stderr)
            return 2
        return 0
    to_stdout = args.json == "-"
    # Progress only for a person watching: never into a pipe or a file, never into the JSON.
    progress = sys.stdout.isatty() and not to_stdout
    report = asyncio.run(_probe_and_write(settings, args.html, progress=progress))
    print(format_table(report), end="", file=sys.stderr if to_stdout else sys.stdout)
    if args.json is not None:
        text = json.dumps(report, indent=2) + "\n"
        if to_stdout:
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
    return int(report["exit_status"])
