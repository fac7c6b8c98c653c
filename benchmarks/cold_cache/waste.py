"""What predictive prefetch fetched and nobody asked for during one W2 run, from ``/metrics``.

gomodproxy counts prefetched bytes in ``gomodproxy_prefetch_bytes_total{kind, outcome}``
(``cache/prefetch.py``): ``prefetched`` when a prefetch stores a file, ``used`` when a client then
asks for it, ``wasted`` when nobody asked within ``waste_after`` seconds (600 by default: longer
than a run, so ``wasted`` stays 0 here). The harness reads the proxy's ``/metrics`` before and
after each go command run (the proxy still running) and reports the difference, per kind:
``prefetched``, ``used``, ``wasted`` (the proxy's own counter, 0 unless the run outlasts
``waste_after``) and ``never_asked`` = prefetched - used, the bytes prefetched and never asked
for within the run. ``gomodproxy_requests_total{kind="zip"}`` gives the zips the go command asked
for in the run (every status), ``gomodproxy_prefetch_decisions_total{kind="zip",
decision="fetched"}`` the zips prefetched from the upstream; ``decisions`` keeps every
decision of the run by kind (``scheduled``, and how the scheduled ones ended: ``fetched``,
``cached`` when the file was stored or in flight already, e.g. the client asked for it first,
``failed``; or why a file was not scheduled: ``refused``, ``budget``, ``queue``, ``fanout``).

A warm run after a cold one may show ``used`` above ``prefetched``: files prefetched in the
cold run and first asked for in the warm one are used then.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

__all__ = ["ProxyCounters", "describe", "parse_counters", "read_counters", "waste_report"]

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)\{(?P<labels>.*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_KINDS = ("mod", "info", "zip")


@dataclass(frozen=True, slots=True)
class ProxyCounters:
    """The counters read from one ``/metrics`` answer."""

    #: ``gomodproxy_prefetch_bytes_total``: (kind, outcome) → bytes.
    prefetch_bytes: dict[tuple[str, str], float]
    #: ``gomodproxy_requests_total`` summed over statuses: kind → requests answered.
    requests: dict[str, float]
    #: ``gomodproxy_prefetch_decisions_total``: (kind, decision) → files.
    decisions: dict[tuple[str, str], float]


def parse_counters(text: str) -> ProxyCounters:
    """The prefetch byte and request counters of a Prometheus text exposition."""
    prefetch: dict[tuple[str, str], float] = {}
    requests: dict[str, float] = {}
    decisions: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        sample = _SAMPLE.match(line)
        if sample is None:
            continue
        labels = dict(_LABEL.findall(sample["labels"]))
        value = float(sample["value"])
        if sample["name"] == "gomodproxy_prefetch_bytes_total":
            key = (labels.get("kind", ""), labels.get("outcome", ""))
            prefetch[key] = prefetch.get(key, 0.0) + value
        elif sample["name"] == "gomodproxy_requests_total":
            kind = labels.get("kind", "")
            requests[kind] = requests.get(kind, 0.0) + value
        elif sample["name"] == "gomodproxy_prefetch_decisions_total":
            key = (labels.get("kind", ""), labels.get("decision", ""))
            decisions[key] = decisions.get(key, 0.0) + value
    return ProxyCounters(prefetch, requests, decisions)


async def read_counters(proxy: str) -> ProxyCounters:
    """GET ``<proxy>/metrics`` (a loopback ``http://host:port`` URL) and parse it."""
    host, _, port = proxy.removeprefix("http://").rstrip("/").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()
    head, _, body = answer.decode().partition("\r\n\r\n")
    if not head.startswith("HTTP/1.") or head.split()[1] != "200":
        raise RuntimeError(f"GET {proxy}/metrics answered {head.splitlines()[:1]}")
    return parse_counters(body)


def waste_report(before: ProxyCounters, after: ProxyCounters) -> dict[str, object]:
    """Per kind, the bytes prefetched, used, wasted and never asked for between two readings."""

    def delta(kind: str, outcome: str) -> int:
        key = (kind, outcome)
        return round(after.prefetch_bytes.get(key, 0.0) - before.prefetch_bytes.get(key, 0.0))

    kinds: dict[str, dict[str, int]] = {}
    for kind in _KINDS:
        prefetched, used = delta(kind, "prefetched"), delta(kind, "used")
        kinds[kind] = {
            "prefetched": prefetched,
            "used": used,
            "wasted": delta(kind, "wasted"),
            "never_asked": prefetched - used,
        }
    zips = after.requests.get("zip", 0.0) - before.requests.get("zip", 0.0)
    key = ("zip", "fetched")
    fetched = after.decisions.get(key, 0.0) - before.decisions.get(key, 0.0)
    decisions: dict[str, dict[str, int]] = {}
    for (kind, decision), value in sorted(after.decisions.items()):
        count = round(value - before.decisions.get((kind, decision), 0.0))
        if count:
            decisions.setdefault(kind, {})[decision] = count
    return {
        "bytes": kinds,
        "zips_asked": round(zips),
        "zips_prefetched": round(fetched),
        "decisions": decisions,
    }


def describe(report: dict[str, object]) -> str:
    """One printout line for a :func:`waste_report`."""
    kinds = report["bytes"]
    assert isinstance(kinds, dict)
    parts = [f"zips asked {report['zips_asked']}, prefetched {report['zips_prefetched']}"]
    for kind, figures in kinds.items():
        mb = {k: v / 1e6 for k, v in figures.items()}
        parts.append(
            f"{kind}: prefetched {mb['prefetched']:.3f} MB used {mb['used']:.3f} MB"
            f" never asked {mb['never_asked']:.3f} MB"
        )
    return "    prefetch " + "; ".join(parts) + f"\n    decisions {report['decisions']}"
