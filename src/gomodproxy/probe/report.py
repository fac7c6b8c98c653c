"""Judging a run (stale versions, verdicts, flags) and writing it: a JSON document whose schema
docs/guides/probe.md describes field by field, and a plain-text table for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from gomodproxy.probe.run import ProbeResult, ProbeSettings
from gomodproxy.probe.samples import Kind, Outcome, Sample, Summary, summarize
from gomodproxy.probe.verdict import Evidence, Verdict, decide, exit_status, flags

__all__ = ["SCHEMA", "build_report", "format_table", "stale_versions"]

SCHEMA = "gomodproxy-probe/1"
JSON = dict[str, Any]
# The run's duration is cut into this many equal buckets for ``errors_over_time``.
TIMELINE_BUCKETS = 10


def stale_versions(settings: ProbeSettings, result: ProbeResult) -> dict[str, list[JSON]]:
    """Per mirror, the versions it holds back: listed by another (untampered) mirror but not in
    its own list, or served by another mirror but answered not-found by it."""
    tampered = {f.mirror for f in result.findings}
    out: dict[str, list[JSON]] = {m.name: [] for m in settings.mirrors}
    reference: dict[str, set[str]] = {}
    for (mirror, path), versions in result.lists.items():
        if mirror not in tampered:
            reference.setdefault(path, set()).update(versions)
    for (mirror, path), versions in result.lists.items():
        for missing in sorted(reference.get(path, set()) - versions):
            out[mirror].append({"module": path, "version": missing, "evidence": "list"})
    served = {(s.mirror, s.target) for s in result.samples if s.outcome is Outcome.OK}
    for s in result.samples:
        if s.outcome is not Outcome.NOT_FOUND or s.kind in (Kind.LIST, Kind.LATEST):
            continue
        if any(m != s.mirror and (m, s.target) in served for m in out if m not in tampered):
            path, _, version = s.target.rpartition("@")
            entry = {"module": path, "version": version, "evidence": f"{s.kind.value} not found"}
            if not any(e["module"] == path and e["version"] == version for e in out[s.mirror]):
                out[s.mirror].append(entry)
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def _summary_json(s: Summary) -> JSON:
    return {
        "sent": s.sent,
        "ok": s.ok,
        "not_found": s.not_found,
        "errors": s.errors,
        "timeouts": s.timeouts,
        "availability": s.availability,
        "error_rate": s.error_rate,
        "ttfb_ms": dict(zip(("p50", "p95", "p99"), map(_ms, s.ttfb), strict=True)),
        "total_ms": dict(zip(("p50", "p95", "p99"), map(_ms, s.total), strict=True)),
        "cold_total_ms_p50": _ms(s.cold_total_p50),
        "warm_total_ms_p50": _ms(s.warm_total_p50),
        "bytes": s.bytes,
        "bytes_per_second": s.bytes_per_second,
    }


def errors_over_time(samples: Sequence[Sample], seconds: float) -> list[JSON]:
    """Requests sent and failed in each of ``TIMELINE_BUCKETS`` equal slices of the run, by
    the time each request was sent."""
    width = max(seconds, 1e-9) / TIMELINE_BUCKETS
    sent = [0] * TIMELINE_BUCKETS
    failed = [0] * TIMELINE_BUCKETS
    for s in samples:
        i = min(TIMELINE_BUCKETS - 1, max(0, int(s.at / width)))
        sent[i] += 1
        failed[i] += 0 if s.outcome.answered else 1
    return [
        {"start_s": round(i * width, 3), "sent": sent[i], "errors": failed[i]}
        for i in range(TIMELINE_BUCKETS)
    ]


def build_report(settings: ProbeSettings, result: ProbeResult) -> JSON:
    """The JSON report (schema ``gomodproxy-probe/1``), verdicts and exit status included."""
    stale = stale_versions(settings, result)
    by_mirror: dict[str, list[Sample]] = {m.name: [] for m in settings.mirrors}
    for sample in result.samples:
        by_mirror[sample.mirror].append(sample)
    summaries = {name: summarize(samples) for name, samples in by_mirror.items()}
    p50s = [s.total[0] for s in summaries.values() if s.total[0] is not None]
    best = min(p50s) if p50s else None
    mirrors: list[JSON] = []
    for mirror in settings.mirrors:
        summary = summaries[mirror.name]
        findings = [f for f in result.findings if f.mirror == mirror.name]
        evidence = Evidence(
            tampered=len(findings),
            stale=len(stale[mirror.name]),
            availability=summary.availability,
            error_rate=summary.error_rate,
            proven=result.proven[mirror.name],
            p50_total=summary.total[0],
        )
        kinds = {
            kind.value: _summary_json(
                summarize(s for s in by_mirror[mirror.name] if s.kind is kind)
            )
            for kind in Kind
        }
        errors = [
            {
                "kind": s.kind.value,
                "target": s.target,
                "outcome": s.outcome.value,
                "detail": s.detail,
            }
            for s in by_mirror[mirror.name]
            if not s.outcome.answered
        ]
        mirrors.append(
            {
                "name": mirror.name,
                "url": mirror.url,
                "verdict": decide(evidence, settings.thresholds).value,
                "flags": flags(evidence, best, settings.thresholds),
                **_summary_json(summary),
                "skipped": result.skipped[mirror.name],
                "backed_off": mirror.name in result.backed_off,
                "proven": result.proven[mirror.name],
                "unproven": result.unproven[mirror.name],
                "kinds": kinds,
                # A file fetched cold and warm is one finding when both carry the same bytes.
                "tampered": [
                    {k: v for k, v in asdict(f).items() if k != "mirror"}
                    for f in dict.fromkeys(findings)
                ],
                "stale": stale[mirror.name],
                "errors_sample": errors[:10],
                "errors_over_time": errors_over_time(by_mirror[mirror.name], result.seconds),
            }
        )
    t = settings.thresholds
    return {
        "schema": SCHEMA,
        "exit_status": exit_status(Verdict(m["verdict"]) for m in mirrors),
        "seconds": round(result.seconds, 3),
        "budget": settings.budget,
        "requests_sent": result.requests_sent,
        "budget_exhausted": result.budget_exhausted,
        "time_limit_seconds": settings.time_limit,
        "time_limit_reached": result.time_limit_reached,
        "concurrency": settings.concurrency,
        "sumdb": settings.sumdb.name if settings.sumdb is not None else None,
        "sumdb_errors": result.sumdb_errors,
        "go_sum": settings.targets.go_sum is not None,
        "modules": [str(m) for m in settings.targets.modules],
        "thresholds": {
            "unreachable_below": t.unreachable_below,
            "flaky_error_rate": t.flaky_error_rate,
            "slow_ratio": t.slow_ratio,
            "slow_min_ms": t.slow_min_seconds * 1000,
            "backoff_after": t.backoff_after,
        },
        "mirrors": mirrors,
    }


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(report: JSON) -> str:
    """The terminal table: one row per mirror, then each finding."""
    head = ("mirror", "verdict", "flags", "sent", "avail", "p50 ms", "p95 ms", "zip MB/s", "proven")
    rows: list[Sequence[str]] = [head]
    for m in report["mirrors"]:
        zip_rate = m["kinds"]["zip"]["bytes_per_second"]
        rows.append(
            (
                m["name"],
                m["verdict"],
                ",".join(m["flags"]) or "-",
                str(m["sent"]),
                _cell(None if m["availability"] is None else m["availability"] * 100, ".0f") + "%",
                _cell(m["total_ms"]["p50"], ".1f"),
                _cell(m["total_ms"]["p95"], ".1f"),
                _cell(None if zip_rate is None else zip_rate / 1e6, ".2f"),
                str(m["proven"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for m in report["mirrors"]:
        for f in m["tampered"]:
            lines.append(
                f"TAMPERED {m['name']}: {f['module']}@{f['version']} {f['kind']} "
                f"expected {f['expected']} ({f['source']}) received {f['received']}"
            )
        for s in m["stale"]:
            lines.append(f"STALE {m['name']}: {s['module']}@{s['version']} ({s['evidence']})")
        if m["verdict"] == "unreachable" and m["errors_sample"]:
            # Why: the first failure (a refused connection, an HTML page, ...), as it was seen.
            first = m["errors_sample"][0]
            lines.append(
                f"UNREACHABLE {m['name']}: {first['outcome']}: {first['detail']}"
                + (" (backed off)" if m["backed_off"] else "")
            )
    lines.append(
        f"{report['requests_sent']} of {report['budget']} requests in {report['seconds']:.1f}s"
        + (" (budget exhausted)" if report["budget_exhausted"] else "")
        + (" (time limit reached)" if report["time_limit_reached"] else "")
    )
    return "\n".join(lines) + "\n"
