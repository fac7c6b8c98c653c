"""``gomodproxy probe`` against real mirrors on 127.0.0.1, each playing one role.

The roles: our proxy in front of an origin, a plain file-served origin, a tampering mirror (one
zip and one go.mod altered), a stale mirror (its list lacks the newest version), a slow one, a
flaky one (every .info answered 503: a third of the file requests), a closed port and a mirror
answering HTML pages; the checksum database is ours, logging the genuine modules. Which server
plays which role, the mirrors' names and their order in the list, which modules are tampered
and which version the stale mirror holds back are all drawn from a seed printed in the output
(``PROBE_SEED=N``, with the drawn roles); set the environment variable PROBE_SEED to replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.cli.main import main
from gomodproxy.probe import (
    ProbeSettings,
    build_report,
    parse_mirrors,
    parse_modules,
    run_probe,
)
from gomodproxy.sumdb.gosumdb import parse_gosumdb
from tests.origin import Fault, Origin, running_origin
from tests.proxykit import SumDB, SynthModule, publish, running_proxy, running_sumdb, synth

MODULES = [
    synth("example.com/alpha", "v1.0.0", size=2000),
    synth("example.com/alpha", "v1.1.0", size=3000),
    synth("example.com/beta", "v0.1.0", size=1000),
    synth("example.com/beta", "v0.2.0"),
    synth("example.com/gamma/v2", "v2.0.0", size=5000),
    synth("example.com/gamma/v2", "v2.0.1"),
]
HTML_PAGE = b"<!DOCTYPE html><html><body>Please sign in</body></html>"


def _seed() -> int:
    """The run's seed: PROBE_SEED when set (to replay a failure), else drawn; printed, so a
    failing run's captured output names it."""
    seed = int(os.environ.get("PROBE_SEED", random.randrange(1 << 32)))
    print(f"PROBE_SEED={seed}")
    return seed


def _modules_text(modules: list[SynthModule]) -> str:
    return "".join(f"{m.path}@{m.version}\n" for m in modules)


@dataclass
class Tampered:
    zip_of: SynthModule
    mod_of: SynthModule
    zip_h1: str
    mod_h1: str


def _tamper(origin: Origin, rnd: random.Random) -> Tampered:
    zip_of = rnd.choice(MODULES)
    mod_of = rnd.choice(MODULES)
    evil = synth(zip_of.path, zip_of.version, files={**zip_of.files, "evil.go": b"package m\n"})
    evil_mod = mod_of.mod + b"\nrequire example.com/evil v1.0.0\n"
    origin.inject(Fault(body=evil.zip), path=zip_of.rel("zip"))
    origin.inject(Fault(body=evil_mod), path=mod_of.rel("mod"))
    return Tampered(
        zip_of,
        mod_of,
        evil.zip_h1,
        synth(mod_of.path, mod_of.version, files={"go.mod": evil_mod}).mod_h1,
    )


#: The parts local mirrors play. Which server plays which, under which name and in which order
#: they are listed, is drawn from the seed, so no verdict can come from a position or a name.
ROLES = ("gomodproxy", "plain", "tampering", "stale", "slow", "flaky", "html", "closed")
SLOW_DELAY = 0.3  # seconds before each answer of the slow mirror


@dataclass
class Mirrors:
    db: SumDB
    urls: dict[str, str]  # role -> URL
    names: dict[str, str]  # role -> the mirror's name in this run
    order: list[str]  # the roles in the order they are listed
    origins: dict[str, Origin]  # role -> origin (every role served by an origin of its own)
    tampered: Tampered
    newest: SynthModule

    def listing(self, roles: tuple[str, ...] = ROLES) -> str:
        """A ``--mirrors @FILE`` text: ``name url`` lines for ``roles``, in the drawn order."""
        return "".join(f"{self.names[r]} {self.urls[r]}\n" for r in self.order if r in roles)

    def role(self, name: str) -> str:
        """The role of the mirror named ``name``."""
        return {n: r for r, n in self.names.items()}[name]


def _draw_names(rnd: random.Random) -> dict[str, str]:
    """A name for every role, unrelated to it (``mirror-`` and four hex digits, all distinct)."""
    numbers = rnd.sample(range(1 << 16), len(ROLES))
    return {role: f"mirror-{n:04x}" for role, n in zip(ROLES, numbers, strict=True)}


@contextlib.asynccontextmanager
async def _mirrors(tmp_path: Path, seed: int) -> AsyncIterator[Mirrors]:
    rnd = random.Random(seed)
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(running_sumdb(tmp_path / "db", MODULES))
        # One origin per role ("gomodproxy" is the upstream of our proxy, "closed" stopped once
        # its port is known), started in the drawn order: roles get ports in random order too.
        started = list(ROLES)
        rnd.shuffle(started)
        origins: dict[str, Origin] = {}
        for role in started:
            origins[role] = await stack.enter_async_context(running_origin())
            publish(origins[role], *MODULES)
        proxy = await stack.enter_async_context(
            running_proxy(tmp_path / "cache", upstream=origins["gomodproxy"].url, sumdb=db)
        )
        tampered = _tamper(origins["tampering"], rnd)
        newest = rnd.choice([MODULES[1], MODULES[3], MODULES[5]])
        older = [m.version for m in MODULES if m.path == newest.path and m is not newest]
        origins["stale"].serve_file(newest.list_rel, "".join(v + "\n" for v in older).encode())
        origins["slow"].inject(Fault(delay=SLOW_DELAY))
        origins["flaky"].inject(Fault(status=503), suffix=".info")
        origins["html"].inject(Fault(body=HTML_PAGE))
        urls = {role: origin.url for role, origin in origins.items()}
        urls["gomodproxy"] = proxy.url
        await origins["closed"].stop()  # nothing listens there now
        names = _draw_names(rnd)
        order = list(ROLES)
        rnd.shuffle(order)
        print(f"PROBE_SEED={seed} roles: " + ", ".join(f"{names[r]}={r}" for r in order))
        yield Mirrors(db, urls, names, order, origins, tampered, newest)


TOP_FIELDS = {
    "schema",
    "exit_status",
    "seconds",
    "budget",
    "requests_sent",
    "budget_exhausted",
    "time_limit_seconds",
    "time_limit_reached",
    "concurrency",
    "sumdb",
    "sumdb_errors",
    "go_sum",
    "modules",
    "thresholds",
    "mirrors",
}
COUNT_FIELDS = {
    "sent",
    "ok",
    "not_found",
    "errors",
    "timeouts",
    "availability",
    "error_rate",
    "ttfb_ms",
    "total_ms",
    "cold_total_ms_p50",
    "warm_total_ms_p50",
    "bytes",
    "bytes_per_second",
}
MIRROR_FIELDS = COUNT_FIELDS | {
    "name",
    "url",
    "verdict",
    "flags",
    "skipped",
    "backed_off",
    "proven",
    "unproven",
    "kinds",
    "tampered",
    "stale",
    "errors_sample",
    "errors_over_time",
}


def _check_counts(c: dict[str, Any]) -> None:
    assert set(c) >= COUNT_FIELDS
    assert c["ok"] + c["not_found"] + c["errors"] + c["timeouts"] == c["sent"]
    if c["sent"]:
        assert c["availability"] == pytest.approx((c["ok"] + c["not_found"]) / c["sent"])
        assert c["error_rate"] == pytest.approx((c["errors"] + c["timeouts"]) / c["sent"])
    for key in ("ttfb_ms", "total_ms"):
        p = c[key]
        assert set(p) == {"p50", "p95", "p99"}
        if c["ok"]:
            assert 0 <= p["p50"] <= p["p95"] <= p["p99"]


def _check_schema(report: dict[str, Any]) -> None:
    """The report has exactly the fields docs/guides/probe.md documents, and they agree."""
    assert set(report) == TOP_FIELDS
    assert report["schema"] == "gomodproxy-probe/1"
    for mirror in report["mirrors"]:
        assert set(mirror) == MIRROR_FIELDS
        _check_counts(mirror)
        assert set(mirror["kinds"]) == {"list", "latest", "info", "mod", "zip"}
        for kind in mirror["kinds"].values():
            assert set(kind) == COUNT_FIELDS
            _check_counts(kind)
        for key in COUNT_FIELDS - {
            "availability",
            "error_rate",
            "ttfb_ms",
            "total_ms",
            "cold_total_ms_p50",
            "warm_total_ms_p50",
            "bytes_per_second",
        }:
            assert sum(k[key] for k in mirror["kinds"].values()) == mirror[key], key
        timeline = mirror["errors_over_time"]
        assert len(timeline) == 10
        assert sum(b["sent"] for b in timeline) == mirror["sent"]
        assert sum(b["errors"] for b in timeline) == mirror["errors"] + mirror["timeouts"]
        for f in mirror["tampered"]:
            assert set(f) == {"module", "version", "kind", "expected", "received", "source"}
            assert f["expected"] != f["received"]


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in report["mirrors"]}


def _probed_requests(m: Mirrors) -> int:
    """Requests the origins probed directly received (not our proxy's upstream)."""
    return sum(o.count() for role, o in m.origins.items() if role not in _NOT_PROBED_DIRECTLY)


#: Roles whose origin the probe does not reach: our proxy's upstream, the stopped origin.
_NOT_PROBED_DIRECTLY = ("gomodproxy", "closed")


@pytest.mark.timeout(180)
@pytest.mark.asyncio
async def test_each_mirror_is_reported_as_what_it_is_and_the_exit_status_is_1(
    tmp_path: Path,
) -> None:
    seed = _seed()
    async with _mirrors(tmp_path, seed) as m:
        mirrors_file = tmp_path / "mirrors.txt"
        mirrors_file.write_text(m.listing())
        modules_file = tmp_path / "modules.txt"
        modules_file.write_text(_modules_text(MODULES))
        report_file = tmp_path / "report.json"
        argv = [
            "probe",
            "--mirrors",
            f"@{mirrors_file}",
            "--modules",
            str(modules_file),
            "--budget",
            "1000",
            "--concurrency",
            "8",
            "--sumdb",
            m.db.gosumdb,
            "--request-timeout",
            "5",
            "--json",
            str(report_file),
        ]
        status = await asyncio.to_thread(main, argv)
        report = json.loads(report_file.read_text())
        sent_to_origins = _probed_requests(m)

    _check_schema(report)
    assert [x["name"] for x in report["mirrors"]] == [m.names[r] for r in m.order]
    by_role = {m.role(name): mirror for name, mirror in _by_name(report).items()}
    verdicts = {role: mirror["verdict"] for role, mirror in by_role.items()}
    assert verdicts == {
        "gomodproxy": "genuine",
        "plain": "genuine",
        "tampering": "tampered",
        "stale": "stale",
        "slow": "genuine",
        "flaky": "genuine",
        "closed": "unreachable",
        "html": "unreachable",
    }, f"seed {seed}"
    assert status == 1 == report["exit_status"]
    flags = {role: mirror["flags"] for role, mirror in by_role.items()}
    assert flags["flaky"] == ["flaky"], f"seed {seed}"
    assert flags["slow"] == ["slow"], f"seed {seed}"
    assert flags["plain"] == flags["gomodproxy"] == [], f"seed {seed}"
    assert report["requests_sent"] == sum(x["sent"] for x in report["mirrors"])
    assert report["requests_sent"] <= report["budget"]
    # Everything the probe sent to the origins it probed directly is in the report.
    assert sent_to_origins == sum(
        mirror["sent"] for role, mirror in by_role.items() if role not in _NOT_PROBED_DIRECTLY
    )
    assert by_role["closed"]["backed_off"]
    assert by_role["closed"]["sent"] == 5  # backed off after 5 failures in a row
    assert by_role["html"]["tampered"] == []
    assert {e["outcome"] for e in by_role["html"]["errors_sample"]} == {"html"}


@pytest.mark.asyncio
async def test_f20_html_declared_by_content_type_is_an_error_not_tampering(tmp_path: Path) -> None:
    """Fault 20: a captive portal answering every file with 200 and a page not starting with
    ``<``: its ``Content-Type: text/html`` makes it an HTML error, never a hash to convict."""
    page = b"Please sign in to use this network.\n"
    async with (
        running_sumdb(tmp_path / "db", MODULES) as db,
        running_origin() as plain,
        running_origin() as portal,
    ):
        publish(plain, *MODULES)
        portal.inject(Fault(body=page, headers={"Content-Type": "text/html; charset=utf-8"}))
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(f"{plain.url},{portal.url}")),
            targets=parse_modules(_modules_text(MODULES).encode(), "modules.txt"),
            budget=200,
            sumdb=parse_gosumdb(db.gosumdb),
        )
        report = build_report(settings, await run_probe(settings))
    mirrors = _by_name(report)
    assert mirrors[plain.url]["verdict"] == "genuine"
    portal_report = mirrors[portal.url]
    assert portal_report["tampered"] == []
    assert portal_report["verdict"] == "unreachable"
    assert {e["outcome"] for e in portal_report["errors_sample"]} == {"html"}
    assert all("text/html" in e["detail"] for e in portal_report["errors_sample"])
    assert report["exit_status"] == 3


@pytest.mark.asyncio
async def test_a_tampering_mirror_is_reported_with_both_hashes(tmp_path: Path) -> None:
    seed = _seed()
    async with _mirrors(tmp_path, seed) as m:
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(f"{m.urls['plain']},{m.urls['tampering']}")),
            targets=parse_modules(_modules_text(MODULES).encode(), "modules.txt"),
            budget=1000,
            sumdb=parse_gosumdb(m.db.gosumdb),
        )
        report = build_report(settings, await run_probe(settings))
    t = m.tampered
    found = {
        (f["module"], f["version"], f["kind"], f["expected"], f["received"], f["source"])
        for f in _by_name(report)[m.urls["tampering"]]["tampered"]
    }
    assert found == {
        (t.zip_of.path, t.zip_of.version, "zip", t.zip_of.zip_h1, t.zip_h1, "checksum database"),
        (t.mod_of.path, t.mod_of.version, "mod", t.mod_of.mod_h1, t.mod_h1, "checksum database"),
    }, f"seed {seed}"
    assert _by_name(report)[m.urls["plain"]]["tampered"] == []
    assert report["exit_status"] == 1


@pytest.mark.asyncio
async def test_a_stale_mirror_names_the_version_it_holds_back(tmp_path: Path) -> None:
    seed = _seed()
    async with _mirrors(tmp_path, seed) as m:
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(f"{m.urls['plain']},{m.urls['stale']}")),
            targets=parse_modules(_modules_text(MODULES).encode(), "modules.txt"),
            budget=1000,
            sumdb=parse_gosumdb(m.db.gosumdb),
        )
        report = build_report(settings, await run_probe(settings))
    stale = _by_name(report)[m.urls["stale"]]
    assert stale["verdict"] == "stale"
    assert {(s["module"], s["version"]) for s in stale["stale"]} == {
        (m.newest.path, m.newest.version)
    }, f"seed {seed}"
    assert report["exit_status"] == 3


@pytest.mark.asyncio
async def test_the_budget_is_never_exceeded_counted_at_the_origins(tmp_path: Path) -> None:
    async with _mirrors(tmp_path, _seed()) as m:
        names = ("plain", "tampering", "stale", "flaky")
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(",".join(m.urls[n] for n in names))),
            targets=parse_modules(_modules_text(MODULES).encode(), "modules.txt"),
            budget=23,
            concurrency=8,
            sumdb=parse_gosumdb(m.db.gosumdb),
        )
        report = build_report(settings, await run_probe(settings))
        at_origins = sum(m.origins[n].count() for n in names)
    assert at_origins == 23 == report["requests_sent"]
    assert report["budget_exhausted"] is True
    assert sum(x["sent"] for x in report["mirrors"]) == 23


@pytest.mark.asyncio
async def test_without_a_database_or_go_sum_nothing_is_proven_and_the_exit_status_is_3(
    tmp_path: Path,
) -> None:
    async with running_origin() as origin:
        publish(origin, *MODULES)
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(origin.url)),
            targets=parse_modules(_modules_text(MODULES).encode(), "modules.txt"),
            budget=100,
            sumdb=None,
        )
        report = build_report(settings, await run_probe(settings))
    mirror = report["mirrors"][0]
    assert mirror["verdict"] == "unverified"
    assert mirror["proven"] == 0
    assert mirror["unproven"] == 24  # .mod and .zip, cold and warm
    assert report["exit_status"] == 3


@pytest.mark.asyncio
async def test_a_go_sum_alone_convicts_a_tampering_mirror(tmp_path: Path) -> None:
    go_sum = b"".join(m.record() for m in MODULES)
    async with running_origin() as good, running_origin() as evil:
        publish(good, *MODULES)
        publish(evil, *MODULES)
        tampered = _tamper(evil, random.Random(_seed()))
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(f"{good.url},{evil.url}")),
            targets=parse_modules(go_sum, "go.sum"),
            budget=200,
            sumdb=None,
        )
        report = build_report(settings, await run_probe(settings))
    mirrors = _by_name(report)
    assert mirrors[good.url]["verdict"] == "genuine"
    assert mirrors[evil.url]["verdict"] == "tampered"
    assert {f["source"] for f in mirrors[evil.url]["tampered"]} == {"go.sum"}
    assert tampered.zip_h1 in {f["received"] for f in mirrors[evil.url]["tampered"]}
    assert report["exit_status"] == 1


@pytest.mark.asyncio
async def test_an_unreachable_mirror_and_an_html_mirror_are_named_with_why_and_exit_3(
    tmp_path: Path,
) -> None:
    """Bad input: a closed port and a mirror answering a sign-in page, alone: each is
    ``unreachable`` with the first failure in the table, and the exit status is 3."""
    modules = tmp_path / "modules.txt"
    modules.write_text(_modules_text(MODULES))
    async with running_origin() as closed, running_origin() as portal:
        portal.inject(Fault(body=HTML_PAGE, headers={"Content-Type": "text/html"}))
        await closed.stop()
        mirrors = tmp_path / "mirrors.txt"
        mirrors.write_text(f"shut {closed.url}\nportal {portal.url}\n")
        argv = ["probe", "--mirrors", f"@{mirrors}", "--modules", str(modules), "--sumdb", "off"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gomodproxy",
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, _ = await proc.communicate()
    text = stdout.decode()
    assert proc.returncode == 3, text
    assert f"UNREACHABLE shut: error: cannot reach upstream {closed.url}" in text
    assert "(backed off)" in text
    assert "UNREACHABLE portal: html: an HTML page (text/html) answered with 200" in text
    assert "TAMPERED" not in text


def test_a_garbage_line_in_the_modules_file_is_a_usage_error_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    modules = tmp_path / "modules.txt"
    modules.write_text("example.com/alpha@v1.0.0\n\nthis is not a module\n")
    status = main(["probe", "--mirrors", "http://127.0.0.1:9", "--modules", str(modules)])
    assert status == 2
    assert f"{modules}:3:" in capsys.readouterr().err


def test_a_budget_of_zero_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    modules = tmp_path / "modules.txt"
    modules.write_text("example.com/alpha@v1.0.0\n")
    argv = ["probe", "--mirrors", "http://127.0.0.1:9", "--modules", str(modules), "--budget", "0"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "--budget" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_a_slow_mirror_keeps_its_verdict_and_is_flagged_slow(tmp_path: Path) -> None:
    one = MODULES[:1]
    async with (
        running_sumdb(tmp_path / "db", one) as db,
        running_origin() as fast,
        running_origin() as slow,
    ):
        publish(fast, *one)
        publish(slow, *one)
        slow.inject(Fault(delay=0.3))
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(f"{fast.url},{slow.url}")),
            targets=parse_modules(_modules_text(one).encode(), "modules.txt"),
            budget=100,
            sumdb=parse_gosumdb(db.gosumdb),
        )
        report = build_report(settings, await run_probe(settings))
    mirrors = _by_name(report)
    assert (mirrors[slow.url]["verdict"], mirrors[slow.url]["flags"]) == ("genuine", ["slow"])
    assert (mirrors[fast.url]["verdict"], mirrors[fast.url]["flags"]) == ("genuine", [])
    assert report["exit_status"] == 0


@pytest.mark.asyncio
async def test_the_time_limit_ends_the_run_with_what_was_measured(tmp_path: Path) -> None:
    async with running_origin() as stalling:
        publish(stalling, *MODULES)
        stalling.inject(Fault(delay=3))
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(stalling.url)),
            targets=parse_modules(_modules_text(MODULES).encode(), "modules.txt"),
            budget=100,
            sumdb=None,
            time_limit=0.5,
        )
        started = asyncio.get_running_loop().time()
        report = build_report(settings, await run_probe(settings))
        elapsed = asyncio.get_running_loop().time() - started
    assert report["time_limit_reached"] is True
    assert elapsed < 5
    assert report["mirrors"][0]["verdict"] == "unverified"
    assert report["exit_status"] == 3


def test_the_guide_documents_every_report_field() -> None:
    guide = Path(__file__).parents[2] / "docs" / "guides" / "probe.md"
    text = guide.read_text(encoding="utf-8").split("## The JSON report", 1)[1]
    top, mirror = text.split("Each mirror:", 1)

    def first_column(table: str) -> set[str]:
        names: set[str] = set()
        for line in table.splitlines():
            if line.startswith("| `"):
                names.update(re.findall(r"`([a-z_0-9]+)`", line.split("|")[1]))
        return names

    assert first_column(top) == TOP_FIELDS
    assert first_column(mirror) == MIRROR_FIELDS


@pytest.mark.asyncio
async def test_a_database_named_without_url_is_found_through_sumdb_via(tmp_path: Path) -> None:
    """As the go command finds it: the first proxy of the list answering
    /sumdb/<name>/supported (here our proxy, which relays our database); its answers are proven
    against the verifier key, so the proxy in between cannot forge them."""
    async with (
        running_sumdb(tmp_path / "db", MODULES) as db,
        running_origin() as origin,
        running_proxy(tmp_path / "cache", upstream="off", sumdb=db) as relay,
    ):
        publish(origin, *MODULES)
        by_name = parse_gosumdb(db.key.verifier_key)
        settings = ProbeSettings(
            mirrors=tuple(parse_mirrors(origin.url)),
            targets=parse_modules(_modules_text(MODULES).encode(), "modules.txt"),
            budget=100,
            sumdb=by_name,
            sumdb_via=relay.url,
        )
        report = build_report(settings, await run_probe(settings))
        assert db.stats.lookups > 0  # reached through the relay
    mirror = report["mirrors"][0]
    assert (mirror["verdict"], mirror["unproven"]) == ("genuine", 0)
    assert mirror["proven"] == 24
