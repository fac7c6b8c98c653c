"""The self-contained HTML report (``--html FILE``): one page, inline CSS and inline SVG charts
drawn here from the JSON report, nothing fetched from anywhere, so it opens offline.

Every bar of every chart is an SVG ``rect`` carrying its data point as attributes
(``data-chart``, ``data-mirror``, ``data-value`` and, per chart, ``data-kind``/``data-stat`` or
``data-bucket``), the values exactly as the JSON report has them, so a reader (or a test) can
take the numbers back out of the page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["render_html"]

JSON = dict[str, Any]

_KINDS = ("list", "latest", "info", "mod", "zip")
_STATS = ("p50", "p95", "p99")
_STAT_COLOURS = {"p50": "#4c78a8", "p95": "#f58518", "p99": "#e45756"}
_VERDICT_COLOURS = {
    "genuine": "#2e7d32",
    "tampered": "#c62828",
    "stale": "#ef6c00",
    "unreachable": "#6d4c41",
    "unverified": "#616161",
}
_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { color: #fff; padding: 1px 8px; border-radius: 3px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }
"""
_BAR = 12  # height of one bar, px
_LABEL = 180  # width of the label column, px
_PLOT = 700  # width of the plot area, px


def _num(value: float | int) -> str:
    """A number as JSON writes it, so the page and the report agree to the last digit."""
    return json.dumps(value)


def _attrs(**attrs: str) -> str:
    return " ".join(f'{k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())


def _verdict_table(report: JSON) -> str:
    head = ("mirror", "verdict", "flags", "sent", "availability", "error rate", "proven")
    rows = []
    for m in report["mirrors"]:
        colour = _VERDICT_COLOURS.get(m["verdict"], "#000")
        avail = "-" if m["availability"] is None else f"{m['availability'] * 100:.1f}%"
        err = "-" if m["error_rate"] is None else f"{m['error_rate'] * 100:.1f}%"
        rows.append(
            f"<tr {_attrs(data_mirror=m['name'], data_verdict=m['verdict'])}>"
            f'<td title="{escape(m["url"])}">{escape(m["name"])}</td>'
            f'<td><span class="verdict" style="background:{colour}">'
            f"{escape(m['verdict'])}</span></td>"
            f"<td>{escape(', '.join(m['flags']) or '-')}</td>"
            f'<td class="num">{m["sent"]}</td><td class="num">{avail}</td>'
            f'<td class="num">{err}</td><td class="num">{m["proven"]}</td></tr>'
        )
    findings = []
    for m in report["mirrors"]:
        for f in m["tampered"]:
            findings.append(
                f"<li><b>{escape(m['name'])}</b>: {escape(f['module'])}@{escape(f['version'])} "
                f"{escape(f['kind'])} expected <code>{escape(f['expected'])}</code> "
                f"({escape(f['source'])}), received <code>{escape(f['received'])}</code></li>"
            )
        for s in m["stale"]:
            findings.append(
                f"<li><b>{escape(m['name'])}</b> holds back {escape(s['module'])}@"
                f"{escape(s['version'])} ({escape(s['evidence'])})</li>"
            )
    header = "".join(f"<th>{h}</th>" for h in head)
    listing = f"<ul>{''.join(findings)}</ul>" if findings else ""
    return f'<table id="verdicts"><tr>{header}</tr>{"".join(rows)}</table>{listing}'


def _svg(chart: str, height: int, body: Sequence[str]) -> str:
    width = _LABEL + _PLOT + 80
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart-{chart}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">{"".join(body)}</svg>'
    )


def _bar(x: float, y: float, w: float, colour: str, title: str, **data: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{_BAR - 2}" '
        f'fill="{colour}" {_attrs(**data)}><title>{escape(title)}</title></rect>'
    )


def _latency_chart(report: JSON, metric: str) -> str:
    """Per mirror and kind, p50/p95/p99 of ``metric`` (``ttfb_ms`` or ``total_ms``)."""
    values = [
        v
        for m in report["mirrors"]
        for k in _KINDS
        for v in m["kinds"][k][metric].values()
        if v is not None
    ]
    top = max(values, default=1.0) or 1.0
    body: list[str] = []
    y = 4
    for m in report["mirrors"]:
        body.append(f'<text x="0" y="{y + 10}" font-weight="bold">{escape(m["name"])}</text>')
        y += _BAR + 2
        for kind in _KINDS:
            body.append(f'<text x="12" y="{y + 3 * _BAR // 2}">{kind}</text>')
            for stat in _STATS:
                value = m["kinds"][kind][metric][stat]
                if value is not None:
                    body.append(
                        _bar(
                            _LABEL,
                            y,
                            value / top * _PLOT,
                            _STAT_COLOURS[stat],
                            f"{m['name']} {kind} {stat}: {value} ms",
                            data_chart=metric,
                            data_mirror=m["name"],
                            data_kind=kind,
                            data_stat=stat,
                            data_value=_num(value),
                        )
                    )
                    body.append(
                        f'<text x="{_LABEL + value / top * _PLOT + 4:.1f}" y="{y + 9}">'
                        f"{value:g}</text>"
                    )
                y += _BAR
            y += 4
        y += 6
    return _svg(metric, y + 4, body)


def _throughput_chart(report: JSON) -> str:
    """Per mirror, body bytes per second over its ``ok`` answers (all kinds, then zips)."""
    values = [
        v
        for m in report["mirrors"]
        for v in (m["bytes_per_second"], m["kinds"]["zip"]["bytes_per_second"])
        if v is not None
    ]
    top = max(values, default=1.0) or 1.0
    body: list[str] = []
    y = 4
    for m in report["mirrors"]:
        body.append(f'<text x="0" y="{y + 16}">{escape(m["name"])}</text>')
        for kind, value, colour in (
            ("all", m["bytes_per_second"], "#4c78a8"),
            ("zip", m["kinds"]["zip"]["bytes_per_second"], "#72b7b2"),
        ):
            if value is not None:
                body.append(
                    _bar(
                        _LABEL,
                        y,
                        value / top * _PLOT,
                        colour,
                        f"{m['name']} {kind}: {value:.0f} B/s",
                        data_chart="throughput",
                        data_mirror=m["name"],
                        data_kind=kind,
                        data_value=_num(value),
                    )
                )
                body.append(
                    f'<text x="{_LABEL + value / top * _PLOT + 4:.1f}" y="{y + 9}">'
                    f"{kind} {value / 1e6:.3f} MB/s</text>"
                )
            y += _BAR
        y += 8
    return _svg("throughput", y + 4, body)


def _errors_chart(report: JSON) -> str:
    """Per mirror, a column per slice of the run: requests sent (light) and failed (dark)."""
    mirrors = report["mirrors"]
    top = max((b["sent"] for m in mirrors for b in m["errors_over_time"]), default=1) or 1
    row = 60
    body: list[str] = []
    for i, m in enumerate(mirrors):
        base = 8 + i * (row + 12) + row
        body.append(f'<text x="0" y="{base - row // 2}">{escape(m["name"])}</text>')
        slices = m["errors_over_time"]
        width = _PLOT / max(len(slices), 1)
        for j, b in enumerate(slices):
            x = _LABEL + j * width
            for what, value, colour in (
                ("sent", b["sent"], "#cfd8dc"),
                ("errors", b["errors"], "#c62828"),
            ):
                h = value / top * row
                attrs = _attrs(
                    data_chart=f"errors_over_time_{what}",
                    data_mirror=m["name"],
                    data_bucket=str(j),
                    data_start=_num(b["start_s"]),
                    data_value=_num(value),
                )
                body.append(
                    f'<rect x="{x + 1:.1f}" y="{base - h:.1f}" width="{width - 2:.1f}" '
                    f'height="{h:.1f}" fill="{colour}" {attrs}><title>{escape(m["name"])} '
                    f"from {b['start_s']} s: {value} {what}</title></rect>"
                )
        body.append(
            f'<line x1="{_LABEL}" x2="{_LABEL + _PLOT}" y1="{base}" y2="{base}" stroke="#999"/>'
        )
    height = 8 + len(mirrors) * (row + 12) + 16
    body.append(
        f'<text x="{_LABEL}" y="{height - 4}">0 s</text>'
        f'<text x="{_LABEL + _PLOT - 40}" y="{height - 4}">{report["seconds"]} s</text>'
    )
    return _svg("errors_over_time", height, body)


def _legend(items: dict[str, str]) -> str:
    spans = "".join(f'<span style="background:{c}"></span>{escape(k)}' for k, c in items.items())
    return f'<p class="legend">{spans}</p>'


def render_html(report: JSON) -> str:
    """The report page for a JSON report (schema ``gomodproxy-probe/1``)."""
    summary = (
        f"{report['requests_sent']} of {report['budget']} requests in {report['seconds']} s"
        f" to {len(report['mirrors'])} mirrors; {len(report['modules'])} module versions;"
        f" checksum database: {escape(str(report['sumdb'] or 'off'))}; exit status"
        f" {report['exit_status']}"
    )
    stats = _legend(_STAT_COLOURS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>gomodproxy probe report</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>gomodproxy probe report</h1><p>{summary}</p>"
        f"<h2>Verdicts</h2>{_verdict_table(report)}"
        f"<h2>Total time by kind (ms)</h2>{stats}{_latency_chart(report, 'total_ms')}"
        f"<h2>Time to first byte by kind (ms)</h2>{stats}{_latency_chart(report, 'ttfb_ms')}"
        "<h2>Throughput (bytes per second of ok answers)</h2>"
        f"{_legend({'all kinds': '#4c78a8', 'zip': '#72b7b2'})}{_throughput_chart(report)}"
        "<h2>Requests and errors over the run</h2>"
        f"{_legend({'sent': '#cfd8dc', 'errors': '#c62828'})}{_errors_chart(report)}"
        "</body></html>\n"
    )
