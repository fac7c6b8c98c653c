"""Connection caps: the total derived from the open-file limit, and the gate (catalogue H77)."""

from __future__ import annotations

import pytest

from gomodproxy.server.connlimits import FD_RESERVE, ConnectionGate, connection_cap


@pytest.mark.parametrize(
    ("setting", "nofile", "cap"),
    [
        (0, 1024, (1024 - FD_RESERVE) // 2),  # the usual ulimit -n: 448
        (0, 256, 64),
        (0, 100, 16),  # a tiny limit still serves someone
        (0, None, 16384),  # unlimited
        (5000, 1024, 5000),  # an explicit value is taken as given (start-up warns)
        (10, 1024, 10),
    ],
)
def test_h77_total_cap_stays_below_the_open_file_limit_unless_set(
    setting: int, nofile: int | None, cap: int
) -> None:
    assert connection_cap(setting, nofile) == cap


def test_h77_auto_cap_leaves_two_descriptors_a_connection_and_the_reserve() -> None:
    for nofile in (256, 1024, 4096, 65536):
        cap = connection_cap(0, nofile)
        assert 2 * cap + FD_RESERVE <= nofile


def test_h77_gate_refuses_over_the_per_client_cap_but_admits_other_clients() -> None:
    gate = ConnectionGate(total=10, per_client=2)
    slots = [gate.acquire("10.0.0.1"), gate.acquire("10.0.0.1")]
    assert all(slots)
    assert gate.over_cap("10.0.0.1") == "client"
    assert gate.acquire("10.0.0.1") is None
    assert gate.acquire("10.0.0.2") is not None
    assert (gate.open, gate.open_from("10.0.0.1"), gate.open_from("10.0.0.2")) == (3, 2, 1)


def test_h77_gate_refuses_over_the_total_cap() -> None:
    gate = ConnectionGate(total=3, per_client=2)
    held = [gate.acquire(f"10.0.0.{i}") for i in range(3)]
    assert all(held)
    assert gate.over_cap("10.0.0.9") == "total"
    assert gate.acquire("10.0.0.9") is None
    assert gate.open == 3


def test_h77_release_gives_the_place_back_once() -> None:
    gate = ConnectionGate(total=1, per_client=1)
    slot = gate.acquire("10.0.0.1")
    assert slot is not None
    assert gate.acquire("10.0.0.1") is None
    slot.release()
    slot.release()  # a second release (connection_lost after a failed handshake) is a no-op
    assert (gate.open, gate.open_from("10.0.0.1")) == (0, 0)
    again = gate.acquire("10.0.0.1")
    assert again is not None
    assert gate.open == 1


def test_h77_the_per_client_table_holds_only_clients_with_open_connections() -> None:
    gate = ConnectionGate(total=100_000, per_client=1)
    for i in range(1000):
        slot = gate.acquire(f"10.0.{i // 256}.{i % 256}")
        assert slot is not None
        slot.release()
    assert gate._by_client == {}
