"""go-import meta tags on the real port 443, inside a network namespace (issue 12).

Module paths carry no port, so the go command and gomodproxy both ask
``https://git.corp.test/<path>?go-get=1`` on port 443. The tests of
``tests/integration/netns_vcs_meta.py`` and ``netns_vcs_discovery.py`` run in a child pytest
inside a network and mount namespace of their own (tests/netns.py) whose hosts file maps
``git.corp.test`` to the namespace's loopback: the meta-tag server listens there on 443, git
http-backend on another port, and both the go command and gomodproxy run against them. Nothing
can leave the namespace: it has no interface but ``lo``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.netns import run_in_netns

pytestmark = [pytest.mark.gocmd, pytest.mark.slow]

_ROOT = Path(__file__).resolve().parents[2]
_INSIDE = ["tests/integration/netns_vcs_meta.py", "tests/integration/netns_vcs_discovery.py"]


def test_meta_tags_on_port_443_match_the_go_command(tmp_path: Path) -> None:
    """The child pytest's tests all pass (their report is shown when one does not)."""
    proc = run_in_netns(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path / "inside"),
            *_INSIDE,
        ],
        hosts={"git.corp.test": "127.0.0.1"},
        scratch=tmp_path,
        env=dict(os.environ),
        cwd=_ROOT,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    # Every inner test ran and passed: the summary names no other outcome.
    assert re.fullmatch(r"\d+ passed in [0-9.]+s( \(.*\))?", summary), proc.stdout
