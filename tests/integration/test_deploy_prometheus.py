"""The Prometheus alert rules are checked by the tools that read them: ``promtool check rules``
(syntax, PromQL, templates) and ``promtool test rules`` (each alert fires on the series the
proxy exposes in that failure, and stays quiet on a healthy proxy). promtool comes from Debian's
``prometheus`` package (``.ci/run`` installs it). The rules must name only metrics the proxy
exposes and runbook sections docs/guides/operations.md has."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gomodproxy.server.metrics import ProxyMetrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "gomodproxy-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "gomodproxy-alerts.test.yml"
OPERATIONS = ROOT / "docs" / "guides" / "operations.md"


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is required: install Debian's prometheus package (see .ci/run)")
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_alert_rules_pass_promtool_check() -> None:
    result = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_alert_rules_fire_as_their_unit_tests_say() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ('outcome="mismatch"}[15m]', 'outcome="mismatch"}[15m'),  # PromQL syntax
        ("{{ $labels.upstream }} fails", "{{ $labels.upstream fails"),  # template syntax
        ("for: 10m", "for: ten minutes"),  # a bad duration
    ],
)
def test_promtool_check_catches_a_broken_rule(tmp_path: Path, good: str, bad: str) -> None:
    text = RULES.read_text()
    assert good in text
    (tmp_path / RULES.name).write_text(text.replace(good, bad, 1))
    result = _promtool("check", "rules", RULES.name, cwd=tmp_path)
    assert result.returncode != 0


def test_a_rule_that_no_longer_fires_fails_its_unit_test(tmp_path: Path) -> None:
    text = RULES.read_text()
    weakened = 'outcome=~"error|timeout"'
    assert weakened in text
    (tmp_path / RULES.name).write_text(text.replace(weakened, 'outcome="error"', 1))
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "GomodproxyUpstreamFailing" in result.stdout + result.stderr


def test_rules_name_only_metrics_the_proxy_exposes() -> None:
    exposed = {
        line.split()[2]
        for line in ProxyMetrics().render().splitlines()
        if line.startswith("# HELP ")
    }
    used = set(re.findall(r"\bgomodproxy_[a-z_]+", RULES.read_text()))
    used = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    assert used, "no metric found in the rules"
    assert used <= exposed, used - exposed


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_every_runbook_link_names_a_section_of_the_operations_guide() -> None:
    anchors = {
        _anchor(line.lstrip("#"))
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    links = set(re.findall(r"operations\.md#([a-z0-9\-]+)", RULES.read_text()))
    assert links
    assert links <= anchors, links - anchors
