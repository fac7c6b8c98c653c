"""Run a command in a network namespace of its own whose hosts file maps test host names to
its loopback (issue 12: meta-tag lookups on the real ports 443, nothing leaving the machine).

``unshare --net --mount`` (with ``--map-root-user`` when not root) gives the child a network
namespace holding only ``lo`` (brought up here) and a mount namespace in which a hosts file of
our own is bind-mounted over ``/etc/hosts``. The namespace has no other interface, so no packet
can leave it; host names resolve through the hosts file, never DNS. Failing to create the
namespace fails the test: it never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

__all__ = ["INSIDE_VARIABLE", "run_in_netns"]

#: Set in the child's environment: tests meant to run only inside refuse to run without it.
INSIDE_VARIABLE = "GOMODPROXY_TEST_NETNS"

_SETUP = 'ip link set lo up && mount --bind "$1" /etc/hosts && shift && exec "$@"'


def run_in_netns(
    argv: Sequence[str],
    *,
    hosts: Mapping[str, str],
    scratch: Path,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a new network and mount namespace whose ``/etc/hosts`` maps each name of
    ``hosts`` to its address (and localhost to 127.0.0.1)."""
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is required for the network-namespace tests (util-linux, iproute2)"
            )
    hosts_file = scratch / "hosts"
    lines = ["127.0.0.1 localhost", *(f"{addr} {name}" for name, addr in hosts.items())]
    hosts_file.write_text("\n".join(lines) + "\n")
    unshare = ["unshare", "--net", "--mount"]
    if os.geteuid() != 0:
        unshare.append("--map-root-user")
    return subprocess.run(
        [*unshare, "sh", "-c", _SETUP, "sh", str(hosts_file), *argv],
        env={**env, INSIDE_VARIABLE: "1"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
