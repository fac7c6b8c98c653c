"""Issue 13, "over time": ``gomodproxy probe --watch`` run as a process against the local
mirrors of test_probe.py serves Prometheus metrics (scraped twice, parsed with the official
client library's parser), names the tampering mirror tampered, and stops with exit status 0 on
SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.integration.test_probe import _mirrors, _modules_text, _seed

FAMILIES = {
    "gomodproxy_probe_rounds",
    "gomodproxy_probe_window_rounds",
    "gomodproxy_probe_verdict",
    "gomodproxy_probe_availability",
    "gomodproxy_probe_error_rate",
    "gomodproxy_probe_tampered_files",
    "gomodproxy_probe_request_seconds",
}


async def _scrape(session: aiohttp.ClientSession, url: str) -> dict[str, list[Sample]]:
    async with asyncio.timeout(10), session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {f.name: list(f.samples) for f in text_string_to_metric_families(text)}


def _rounds(families: dict[str, list[Sample]]) -> float:
    return sum(s.value for s in families.get("gomodproxy_probe_rounds", []))


async def _scrape_after_round(
    session: aiohttp.ClientSession, url: str, after: float
) -> dict[str, list[Sample]]:
    async with asyncio.timeout(30):
        while True:
            families = await _scrape(session, url)
            if _rounds(families) > after:
                return families
            await asyncio.sleep(0.1)


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_watch_serves_metrics_naming_the_tampering_mirror_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    seed = _seed()
    async with _mirrors(tmp_path, seed) as m, aiohttp.ClientSession() as session:
        mirrors_file = tmp_path / "mirrors.txt"
        mirrors_file.write_text(m.listing(("plain", "tampering", "flaky")))
        plain, tampering, flaky = (m.names[r] for r in ("plain", "tampering", "flaky"))
        modules_file = tmp_path / "modules.txt"
        # The two tampered files' modules (drawn from the seed): within the budget whatever
        # the seed, so every round asks every mirror for them.
        zip_of, mod_of = m.tampered.zip_of, m.tampered.mod_of
        probed = [zip_of] if mod_of.rel("mod") == zip_of.rel("mod") else [zip_of, mod_of]
        modules_file.write_text(_modules_text(probed))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gomodproxy",
            "probe",
            "--mirrors",
            f"@{mirrors_file}",
            "--modules",
            str(modules_file),
            "--sumdb",
            m.db.gosumdb,
            "--budget",
            "60",
            "--watch",
            "0.5",
            "--window",
            "3",
            "--metrics-listen",
            "127.0.0.1:0",
            env=dict(os.environ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line.startswith(b"gomodproxy: probe metrics at http://127.0.0.1:"), line
            url = line.split()[-1].decode()

            first = await _scrape_after_round(session, url, 0)
            second = await _scrape_after_round(session, url, _rounds(first))
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(5):
                _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]

    for families in (first, second):
        assert set(families) >= FAMILIES
    assert _rounds(second) > _rounds(first) >= 1
    verdicts = {
        (s.labels["mirror"], s.labels["verdict"])
        for s in second["gomodproxy_probe_verdict"]
        if s.value == 1
    }
    assert verdicts == {
        (plain, "genuine"),
        (tampering, "tampered"),
        (flaky, "genuine"),
    }, f"seed {seed}"
    # Each mirror has exactly one verdict set, over all five.
    assert len(second["gomodproxy_probe_verdict"]) == 3 * 5
    rates = {s.labels["mirror"]: s.value for s in second["gomodproxy_probe_error_rate"]}
    assert rates[plain] == 0 < rates[flaky]
    avail = {s.labels["mirror"]: s.value for s in second["gomodproxy_probe_availability"]}
    assert avail[plain] == 1 > avail[flaky]
    tampered = {s.labels["mirror"]: s.value for s in second["gomodproxy_probe_tampered_files"]}
    assert tampered[tampering] >= 1
    assert tampered[plain] == 0
    counts = {
        (s.labels["mirror"], s.labels["kind"]): s.value
        for s in second["gomodproxy_probe_request_seconds"]
        if s.name.endswith("_count")
    }
    assert counts[(plain, "zip")] >= 1
    window = second["gomodproxy_probe_window_rounds"][0].value
    assert 1 <= window <= 3
