"""Issue 13, proof: the ``--html`` report of a run against the local mirrors of test_probe.py is
opened in headless Chromium (Debian's package, kept off the network by its flags), and every
chart's data points in the page Chromium built are compared with the JSON report of the same
run; a screenshot is taken as an artefact."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.cli.main import main
from tests.integration.test_probe import MODULES, _mirrors, _modules_text, _seed

CHROMIUM_SECONDS = 60
# No background networking, no component updates, no sync: the page is all it loads.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
]


class _ChartPoints(HTMLParser):
    """Collects the ``data-*`` attributes of every element that has ``data-chart``, and the
    verdict table's rows."""

    def __init__(self) -> None:
        super().__init__()
        self.points: list[dict[str, str]] = []
        self.verdicts: dict[str, str] = {}
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        if "chart" in data:
            self.points.append(data)
        elif "verdict" in data:
            self.verdicts[data["mirror"]] = data["verdict"]


def _expected_points(report: dict[str, Any]) -> set[tuple[str, ...]]:
    """The chart points the page must carry, from the JSON report (null values draw no bar)."""
    out: set[tuple[str, ...]] = set()
    for m in report["mirrors"]:
        for metric in ("ttfb_ms", "total_ms"):
            for kind, counts in m["kinds"].items():
                for stat, value in counts[metric].items():
                    if value is not None:
                        out.add((metric, m["name"], kind, stat, repr(float(value))))
        for kind, value in (
            ("all", m["bytes_per_second"]),
            ("zip", m["kinds"]["zip"]["bytes_per_second"]),
        ):
            if value is not None:
                out.add(("throughput", m["name"], kind, "", repr(float(value))))
        for i, b in enumerate(m["errors_over_time"]):
            for what in ("sent", "errors"):
                out.add((f"errors_over_time_{what}", m["name"], str(i), "", repr(float(b[what]))))
    return out


def _page_points(points: list[dict[str, str]]) -> set[tuple[str, ...]]:
    return {
        (
            p["chart"],
            p["mirror"],
            p.get("kind", p.get("bucket", "")),
            p.get("stat", ""),
            repr(float(p["value"])),
        )
        for p in points
    }


async def _chromium(tmp_path: Path, *args: str) -> bytes:
    chromium = shutil.which("chromium")
    assert chromium is not None, "chromium is not installed (.ci/run installs it)"
    profile = tmp_path / "chromium-profile"
    proc = await asyncio.create_subprocess_exec(
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        async with asyncio.timeout(CHROMIUM_SECONDS):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


@pytest.mark.timeout(240)
@pytest.mark.asyncio
async def test_the_html_report_shows_in_chromium_the_numbers_of_the_json_report(
    tmp_path: Path,
) -> None:
    seed = _seed()
    async with _mirrors(tmp_path, seed) as m:
        mirrors_file = tmp_path / "mirrors.txt"
        mirrors_file.write_text(m.listing())
        modules_file = tmp_path / "modules.txt"
        modules_file.write_text(_modules_text(MODULES))
        report_file, page = tmp_path / "report.json", tmp_path / "report.html"
        argv = [
            "probe",
            "--mirrors",
            f"@{mirrors_file}",
            "--modules",
            str(modules_file),
            "--sumdb",
            m.db.gosumdb,
            "--request-timeout",
            "5",
            "--json",
            str(report_file),
            "--html",
            str(page),
        ]
        status = await asyncio.to_thread(main, argv)
    assert status == 1
    report = json.loads(await asyncio.to_thread(report_file.read_text))
    text = await asyncio.to_thread(page.read_text)
    # Self-contained: no script, stylesheet, image or font is loaded from anywhere.
    for needle in ("<script", "<link", "src=", "@import", "url("):
        assert needle not in text, needle

    dom = await _chromium(tmp_path, "--dump-dom", page.as_uri())
    parsed = _ChartPoints()
    parsed.feed(dom.decode())
    assert {"svg", "rect", "table"} <= parsed.tags
    assert parsed.verdicts == {x["name"]: x["verdict"] for x in report["mirrors"]}
    assert parsed.verdicts[m.names["tampering"]] == "tampered", f"seed {seed}"
    charts = {p["chart"] for p in parsed.points}
    assert charts == {
        "ttfb_ms",
        "total_ms",
        "throughput",
        "errors_over_time_sent",
        "errors_over_time_errors",
    }
    page_points = _page_points(parsed.points)
    assert len(page_points) == len(parsed.points)  # no point drawn twice
    assert page_points == _expected_points(report), f"seed {seed}"

    shot = tmp_path / "probe-report.png"
    await _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    data = await asyncio.to_thread(shot.read_bytes)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000
    print(f"screenshot: {shot}")
