"""The status page is rendered from the metrics alone, escaped, and names no module."""

from __future__ import annotations

from gomodproxy.protocol.kinds import FileKind
from gomodproxy.server.metrics import ProxyMetrics
from gomodproxy.server.status import StatusInfo, render_status

INFO = StatusInfo(
    instance_id="<b>edge-1</b>",
    upstreams="https://u:***@proxy.internal.example,direct",
    sumdb="sum.golang.org",
    cache_dir="/var/cache/gomodproxy",
    storage="filesystem",
    started=1000.0,
)


def test_the_page_sums_the_counters_and_computes_hit_ratios() -> None:
    metrics = ProxyMetrics()
    for _ in range(3):
        metrics.cache_result(FileKind.ZIP, True)
    metrics.cache_result(FileKind.ZIP, False)
    metrics.requests.inc("zip", "200", amount=4)
    metrics.requests.inc("zip", "404")
    metrics.bytes_served.inc("zip", amount=12345)
    metrics.upstream_result("https://proxy.internal.example", FileKind.ZIP, "ok", 0.2)
    metrics.verifications.inc("zip", "ok")
    page = render_status(metrics, INFO, now=1000.0 + 90061)
    assert "<td>zip</td><td>3</td><td>1</td><td>75.0%</td>" in page
    assert "<td>zip</td><td>5</td><td>12345</td>" in page
    assert "<td>https://proxy.internal.example</td><td>zip</td><td>ok</td><td>1</td>" in page
    assert "1d 1h 1m 1s" in page
    assert "https://u:***@proxy.internal.example,direct" in page


def test_values_are_escaped() -> None:
    page = render_status(ProxyMetrics(), INFO, now=1000.0)
    assert "<b>edge-1</b>" not in page
    assert "&lt;b&gt;edge-1&lt;/b&gt;" in page
