"""Charts (PNG) of the benchmark results for docs/reports/benchmarks.md.

Reads ``benchmarks/results/{warm_mix,w1_final,cold_cache,memory,client}.json`` and writes
``docs/reports/img/*.png``: throughput against concurrency (W1, the URL mix and each file kind),
latency (p50 and p99) against concurrency, W2 wall times, W3 (the download client against the
go command) and M1 peak memory. Needs matplotlib
(the ``bench`` extra). Run from the repository root: ``.venv/bin/python -m benchmarks.charts``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display; chosen before pyplot loads
import matplotlib.pyplot as plt

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
OUT = REPO / "docs" / "reports" / "img"


def _load(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _save(fig: Any, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=110)
    plt.close(fig)
    print(f"wrote docs/reports/img/{name}")


def warm_mix() -> None:
    """W1 mix: req/s and latency against connections, every server of the run."""
    data = _load("warm_mix")
    rows = data["medians"]
    conns = [r["connections"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for server in data["settings"].get("servers", ["nginx", "gomodproxy"]):
        left.plot(conns, [r[f"{server}_req_s"] for r in rows], marker="o", label=server)
        right.plot(conns, [r[f"{server}_p50_ms"] for r in rows], marker="o", label=f"{server} p50")
        right.plot(
            conns, [r[f"{server}_p99_ms"] for r in rows], marker="s", ls="--", label=f"{server} p99"
        )
    left.set(title="W1 URL mix: throughput", xlabel="connections", ylabel="requests/s")
    right.set(title="W1 URL mix: latency", xlabel="connections", ylabel="ms", yscale="log")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.legend()
        ax.grid(alpha=0.3)
    _save(fig, "w1_mix.png")


def hot_path() -> None:
    """W1 per file kind: median req/s of each server at the run's largest connection count."""
    data = _load("w1_final")
    cells = data["cells"]
    kinds = list(dict.fromkeys(c["kind"] for c in cells))
    servers = list(dict.fromkeys(c["server"] for c in cells))
    conns = max(c["connections"] for c in cells)
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.5))
    for ax, kind in zip(axes, kinds, strict=True):
        medians = []
        for server in servers:
            values = sorted(
                c["requests_per_s"]
                for c in cells
                if c["kind"] == kind and c["server"] == server and c["connections"] == conns
            )
            medians.append(values[len(values) // 2] if values else 0)
        ax.barh(servers, medians)
        ax.invert_yaxis()
        ax.set(title=f"cache hits, {kind}, {conns} connections", xlabel="requests/s")
        ax.grid(axis="x", alpha=0.3)
    _save(fig, "w1_kinds.png")


def cold_cache() -> None:
    """W2: wall time of each scenario."""
    medians = _load("cold_cache")["medians"]
    names = list(medians)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(names, [medians[n]["seconds"] for n in names])
    ax.invert_yaxis()
    ax.set(title="W2: go mod download all, Prometheus (418 modules)", xlabel="seconds")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, "w2_cold_cache.png")


def memory() -> None:
    """M1: idle and peak RSS per proxy and phase."""
    results = _load("memory")["results"]
    labels, idle, peak = [], [], []
    for proxy, phases in results.items():
        for phase, cell in phases.items():
            labels.append(f"{proxy} {phase}")
            idle.append(cell["idle_rss_mib"])
            peak.append(cell["peak_rss_mib"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(labels, peak, label="peak")
    ax.barh(labels, idle, label="idle")
    ax.invert_yaxis()
    ax.set(title="M1: RSS while 20 clients fetch a 300 MB zip", xlabel="MiB")
    ax.legend()
    ax.grid(axis="x", alpha=0.3)
    _save(fig, "m1_memory.png")


def client() -> None:
    """W3: gomodproxy download against go mod download, wall time and peak RSS per project."""
    rows = _load("client")["medians"]
    labels = [f"{r['project']}\n{'50 ms' if r['delay'] else 'local'}" for r in rows]
    ys = list(range(len(rows)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for offset, tool in ((-0.2, "go"), (0.2, "gomodproxy")):
        at = [y + offset for y in ys]
        left.barh(at, [r[f"{tool}_seconds"] for r in rows], height=0.4, label=tool)
        right.barh(at, [r[f"{tool}_peak_rss_mib"] for r in rows], height=0.4, label=tool)
    left.set(title="W3: wall time (median)", xlabel="seconds")
    right.set(title="W3: peak RSS of the process tree", xlabel="MiB")
    for ax in (left, right):
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        ax.legend()
    _save(fig, "w3_client.png")


def main() -> int:
    warm_mix()
    hot_path()
    cold_cache()
    memory()
    client()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
