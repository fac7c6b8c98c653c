"""Suite-wide test configuration: hypothesis profiles, the blocking-call detector and the Go
oracle helper fixture.

Every test runs under blockbuster (scanning ``gomodproxy`` only): a blocking call (file or
socket I/O, ``time.sleep``, a lock wait) made by our code on the event loop's thread fails the
test with ``BlockingError``. Work that must block goes through ``asyncio.to_thread``.

Hypothesis runs without deadlines (a 2-core CI machine is slow and shared); with ``CI`` set it
derandomizes, so a CI run is reproducible and a failure it finds can be replayed locally with
``CI=true``. Each property test bounds its own ``max_examples``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from blockbuster import blockbuster_ctx
from hypothesis import HealthCheck, settings

from tests.gohelper_client import GoHelper
from tests.realservers import RedisServer, S3Server, running_redis, running_versitygw

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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server on loopback for the session (tests use namespaces of their own)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One versitygw on loopback for the session (tests use buckets of their own)."""
    with running_versitygw(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(autouse=True)
def no_blocking_calls_on_the_loop() -> Iterator[None]:
    """Fail the test when gomodproxy blocks the event loop (see the module docstring)."""
    with blockbuster_ctx(["gomodproxy"]):
        yield
