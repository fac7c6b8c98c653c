"""Suite-wide test configuration: hypothesis profiles and the Go oracle helper fixture.

Hypothesis runs without deadlines (a 2-core CI machine is slow and shared); with ``CI`` set it
derandomizes, so a CI run is reproducible and a failure it finds can be replayed locally with
``CI=true``. Each property test bounds its own ``max_examples``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.gohelper_client import GoHelper

settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def gohelper() -> Iterator[GoHelper]:
    """The Go oracle helper (golang.org/x/mod over JSON lines), started once per session."""
    with GoHelper() as helper:
        yield helper
