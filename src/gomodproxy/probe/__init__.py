"""gomodproxy.probe: measure and audit Go module mirrors (``gomodproxy probe``).

:func:`run_probe` sends every mirror the same requests within a budget and a time limit;
:func:`build_report` judges them (verdicts, flags, exit status) into the JSON report documented
in docs/guides/probe.md; :func:`format_table` prints it and :func:`render_html` draws it as a page.
"""

from gomodproxy.probe.html import render_html
from gomodproxy.probe.inputs import (
    Mirror,
    ModuleVersion,
    ProbeInputError,
    Targets,
    parse_mirrors,
    parse_modules,
)
from gomodproxy.probe.report import SCHEMA, build_report, format_table
from gomodproxy.probe.run import ProbeResult, ProbeSettings, planned_requests, run_probe
from gomodproxy.probe.samples import percentile
from gomodproxy.probe.verdict import Thresholds, Verdict, decide, exit_status

__all__ = [
    "SCHEMA",
    "Mirror",
    "ModuleVersion",
    "ProbeInputError",
    "ProbeResult",
    "ProbeSettings",
    "Targets",
    "Thresholds",
    "Verdict",
    "build_report",
    "decide",
    "exit_status",
    "format_table",
    "parse_mirrors",
    "parse_modules",
    "percentile",
    "planned_requests",
    "render_html",
    "run_probe",
]
