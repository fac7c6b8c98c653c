"""Cells of the benchmark, their medians and spread, and the printed table."""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Cell:
    """One wrk run against one server: file kind, connections, repeat number, and figures.

    ``other_busy_core*`` is the share of the core busy with anything but the process pinned
    there (other work on this shared machine, and kernel softirq time not charged to a
    process): the noise indicator.
    """

    server: str
    kind: str
    connections: int
    repeat: int
    requests: int
    requests_per_s: float
    mib_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    status_errors: int
    server_cpu_s: float
    cpu_us_per_request: float
    server_core_busy: float
    wrk_core_busy: float
    other_busy_core0: float
    other_busy_core1: float
    rss_mib: float


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians over the repeats of one (server, kind, connections), with spread and ratios."""

    server: str
    kind: str
    connections: int
    repeats: int
    requests_per_s: float
    requests_per_s_min: float
    requests_per_s_max: float
    spread_pct: float
    ratio_to_nginx: float | None
    mib_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p99_ms_max: float
    cpu_us_per_request: float
    requests_per_cpu_s: float
    capacity_ratio_to_nginx: float | None
    server_core_busy: float
    wrk_core_busy: float
    other_busy_core0: float
    other_busy_core1: float
    rss_mib: float
    errors: int


def summarise(cells: Iterable[Cell], ceiling: str = "nginx") -> list[Summary]:
    """Group the cells by (server, kind, connections) and take medians over the repeats."""
    groups: dict[tuple[str, str, int], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.server, cell.kind, cell.connections), []).append(cell)
    ceilings = {
        (kind, conns): statistics.median(c.requests_per_s for c in group)
        for (server, kind, conns), group in groups.items()
        if server == ceiling
    }
    ceiling_caps = {
        (kind, conns): _median(_capacity(c) for c in group)
        for (server, kind, conns), group in groups.items()
        if server == ceiling
    }
    out: list[Summary] = []
    for (server, kind, conns), group in groups.items():
        rps = [c.requests_per_s for c in group]
        median_rps = statistics.median(rps)
        ceiling_rps = ceilings.get((kind, conns))
        capacity = _median(_capacity(c) for c in group)
        ceiling_cap = ceiling_caps.get((kind, conns))
        out.append(
            Summary(
                server=server,
                kind=kind,
                connections=conns,
                repeats=len(group),
                requests_per_s=round(median_rps, 1),
                requests_per_s_min=round(min(rps), 1),
                requests_per_s_max=round(max(rps), 1),
                spread_pct=round(100 * (max(rps) - min(rps)) / median_rps, 1),
                ratio_to_nginx=round(median_rps / ceiling_rps, 3) if ceiling_rps else None,
                mib_per_s=round(_median(c.mib_per_s for c in group), 1),
                p50_ms=round(_median(c.p50_ms for c in group), 3),
                p90_ms=round(_median(c.p90_ms for c in group), 3),
                p99_ms=round(_median(c.p99_ms for c in group), 3),
                p99_ms_max=round(max(c.p99_ms for c in group), 3),
                cpu_us_per_request=round(_median(c.cpu_us_per_request for c in group), 1),
                requests_per_cpu_s=round(capacity),
                capacity_ratio_to_nginx=round(capacity / ceiling_cap, 3) if ceiling_cap else None,
                server_core_busy=round(_median(c.server_core_busy for c in group), 3),
                wrk_core_busy=round(_median(c.wrk_core_busy for c in group), 3),
                other_busy_core0=round(_median(c.other_busy_core0 for c in group), 3),
                other_busy_core1=round(_median(c.other_busy_core1 for c in group), 3),
                rss_mib=round(max(c.rss_mib for c in group), 1),
                errors=sum(c.socket_errors + c.status_errors for c in group),
            )
        )
    return out


def _capacity(cell: Cell) -> float:
    return cell.requests / cell.server_cpu_s if cell.server_cpu_s > 0 else 0.0


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def format_table(rows: Sequence[Summary], servers: Sequence[str]) -> str:
    """A plain-text table per file kind: medians, spread and ratio to nginx."""
    order = {name: i for i, name in enumerate(servers)}
    head = (
        f"{'conns':>5} {'server':<16} {'req/s':>9} {'spread':>7} {'x nginx':>7} {'MiB/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>8} {'CPU us/req':>10} {'cap x ng':>8} {'srv core':>8} "
        f"{'wrk core':>8} "
        f"{'other0':>6} {'RSS MiB':>7} {'err':>4}"
    )
    lines: list[str] = []
    for kind in dict.fromkeys(r.kind for r in rows):
        lines += ["", f"== {kind} ==", head]
        chosen = sorted(
            (r for r in rows if r.kind == kind),
            key=lambda r: (r.connections, order.get(r.server, len(order))),
        )
        for r in chosen:
            ratio = f"{r.ratio_to_nginx:.2f}" if r.ratio_to_nginx is not None else "-"
            cap = r.capacity_ratio_to_nginx
            cap_ratio = f"{cap:.2f}" if cap is not None else "-"
            lines.append(
                f"{r.connections:>5} {r.server:<16} {r.requests_per_s:>9.0f} "
                f"{r.spread_pct:>6.1f}% {ratio:>7} {r.mib_per_s:>8.1f} {r.p50_ms:>7.2f} "
                f"{r.p99_ms:>8.2f} {r.cpu_us_per_request:>10.1f} {cap_ratio:>8} "
                f"{r.server_core_busy:>8.2f} "
                f"{r.wrk_core_busy:>8.2f} {r.other_busy_core0:>6.2f} {r.rss_mib:>7.1f} "
                f"{r.errors:>4}"
            )
    return "\n".join(lines)


def format_markdown(rows: Sequence[Summary], servers: Sequence[str]) -> str:
    """Markdown tables per file kind (for ``docs/reports/http-stack.md``)."""
    order = {name: i for i, name in enumerate(servers)}
    lines: list[str] = []
    for kind in dict.fromkeys(r.kind for r in rows):
        lines += [
            "",
            f"**{kind}**",
            "",
            "| conns | server | req/s median [min–max] | × nginx | p50 ms | p99 ms "
            "| CPU µs/req | req per CPU-s × nginx |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        chosen = sorted(
            (r for r in rows if r.kind == kind),
            key=lambda r: (r.connections, order.get(r.server, len(order))),
        )
        for r in chosen:
            ratio = f"{r.ratio_to_nginx:.2f}" if r.ratio_to_nginx is not None else "–"
            cap = r.capacity_ratio_to_nginx
            lines.append(
                f"| {r.connections} | {r.server} | {r.requests_per_s:,.0f} "
                f"[{r.requests_per_s_min:,.0f}–{r.requests_per_s_max:,.0f}] | {ratio} "
                f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.cpu_us_per_request:.0f} "
                f"| {f'{cap:.2f}' if cap is not None else '–'} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables of a results file: ``python -m benchmarks.http_stacks.report FILE``."""
    parser = argparse.ArgumentParser(description="Tables from benchmarks/results JSON")
    parser.add_argument("results", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text())
    rows = [Summary(**row) for row in data["summary"]]
    servers = list(data["servers"])
    print(format_markdown(rows, servers) if args.markdown else format_table(rows, servers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
