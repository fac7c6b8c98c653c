"""A circuit breaker per upstream: stop asking an upstream that keeps failing, probe it now and
then, and go back to it once it answers.

``closed`` (normal): every request goes to the upstream; ``failures`` failed requests in a row
(errors and timeouts; a not-found is an answer, not a failure) open the circuit. ``open``: no
request is sent for ``cooldown`` seconds; each is refused at once with an
:class:`~gomodproxy.errors.UpstreamError` (so a ``|`` after the upstream falls through to the
next one, as for any error). ``half_open`` (after the cool-down): one request at a time goes
through as a probe, the others are refused; the probe's success closes the circuit, its
failure opens it again for another cool-down.

The state machine (:class:`CircuitBreaker`) is pure and takes the time from a clock it is
given; :class:`BreakerFetcher` puts it in front of a
:class:`~gomodproxy.upstream.modulefetch.ModuleFetcher`. Every change of state is logged and
reported to a :class:`BreakerObserver` (the metrics).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol

from gomodproxy.errors import ModuleNotFound, ProxyError, UpstreamError
from gomodproxy.upstream.base import UpstreamBody
from gomodproxy.upstream.modulefetch import ModuleFetcher

__all__ = ["BreakerFetcher", "BreakerObserver", "CircuitBreaker", "CircuitOpen", "State"]

logger = logging.getLogger(__name__)

Headers = Mapping[str, str] | None


class State(enum.Enum):
    """A circuit's state; ``value`` is the number the metrics gauge shows."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpen(UpstreamError):
    """A request refused without being sent: the upstream's circuit is open."""

    status_hint = 503


class BreakerObserver(Protocol):
    """Told about every circuit's changes (metrics)."""

    def circuit_state(self, upstream: str, state: State) -> None:
        """The circuit of ``upstream`` is now ``state``."""
        ...

    def circuit_rejected(self, upstream: str) -> None:
        """A request to ``upstream`` was refused by its open circuit."""
        ...


class CircuitBreaker:
    """The state of one upstream's circuit (see the module docstring)."""

    def __init__(
        self,
        upstream: str,
        *,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        observer: BreakerObserver | None = None,
    ) -> None:
        if failures < 1 or cooldown <= 0:
            raise ValueError("a circuit breaker needs failures >= 1 and cooldown > 0")
        self.upstream = upstream
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._observer = observer
        self.state = State.CLOSED
        self._in_a_row = 0
        self._opened_at = 0.0
        self._probing = False
        if observer is not None:
            observer.circuit_state(upstream, self.state)

    def admit(self) -> bool:
        """Whether a request may be sent now (True in half-open makes it the probe)."""
        if self.state is State.OPEN:
            if self._clock() - self._opened_at < self.cooldown:
                return self._reject()
            self._move(State.HALF_OPEN)
        if self.state is State.HALF_OPEN:
            if self._probing:
                return self._reject()
            self._probing = True
        return True

    def succeeded(self) -> None:
        """The request admitted got an answer (a not-found counts: the upstream works)."""
        self._in_a_row = 0
        self._probing = False
        if self.state is not State.CLOSED:
            self._move(State.CLOSED)

    def failed(self) -> None:
        """The request admitted failed (an error or a timeout)."""
        self._in_a_row += 1
        probe = self._probing
        self._probing = False
        if probe or (self.state is State.CLOSED and self._in_a_row >= self.failures):
            self._opened_at = self._clock()
            self._move(State.OPEN)

    def abandoned(self) -> None:
        """The request admitted ended without a verdict (cancelled): free the probe slot."""
        self._probing = False

    def refusal(self) -> CircuitOpen:
        """The error a refused request gets."""
        left = max(0.0, self.cooldown - (self._clock() - self._opened_at))
        return CircuitOpen(
            f"upstream {self.upstream} is not asked: its circuit is open after "
            f"{self._in_a_row} failures in a row (next probe in {left:.0f}s)",
            upstream=self.upstream,
        )

    def _reject(self) -> bool:
        if self._observer is not None:
            self._observer.circuit_rejected(self.upstream)
        return False

    def _move(self, state: State) -> None:
        log = logger.warning if state is State.OPEN else logger.info
        log(
            "upstream.circuit upstream=%s state=%s failures_in_a_row=%d cooldown=%g",
            self.upstream,
            state.name.lower(),
            self._in_a_row,
            self.cooldown,
        )
        self.state = state
        if self._observer is not None:
            self._observer.circuit_state(self.upstream, state)


class BreakerFetcher:
    """A :class:`ModuleFetcher` whose upstream is behind a :class:`CircuitBreaker`."""

    def __init__(self, inner: ModuleFetcher, breaker: CircuitBreaker) -> None:
        self._inner = inner
        self.breaker = breaker

    @property
    def name(self) -> str:
        """The wrapped upstream's name."""
        return self._inner.name

    async def list(self, path: str, *, headers: Headers = None) -> bytes:
        """``@v/list`` unless the circuit is open."""
        return await self._call(lambda: self._inner.list(path, headers=headers))

    async def latest(self, path: str, *, headers: Headers = None) -> bytes:
        """``@latest`` unless the circuit is open."""
        return await self._call(lambda: self._inner.latest(path, headers=headers))

    async def info(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """``.info`` unless the circuit is open."""
        return await self._call(lambda: self._inner.info(path, version, headers=headers))

    async def mod(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """``.mod`` unless the circuit is open."""
        return await self._call(lambda: self._inner.mod(path, version, headers=headers))

    @contextlib.asynccontextmanager
    async def zip(
        self, path: str, version: str, *, headers: Headers = None
    ) -> AsyncIterator[UpstreamBody]:
        """The zip unless the circuit is open; a failure before the body counts."""
        if not self.breaker.admit():
            raise self.breaker.refusal()
        try:
            opened = self._inner.zip(path, version, headers=headers)
            body = await opened.__aenter__()
        except ModuleNotFound:
            self.breaker.succeeded()
            raise
        except ProxyError:
            self.breaker.failed()
            raise
        except BaseException:
            self.breaker.abandoned()
            raise
        self.breaker.succeeded()
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_exit(opened)
            yield body

    async def _call(self, call: Callable[[], Awaitable[bytes]]) -> bytes:
        if not self.breaker.admit():
            raise self.breaker.refusal()
        try:
            data = await call()
        except ModuleNotFound:
            self.breaker.succeeded()
            raise
        except ProxyError:
            self.breaker.failed()
            raise
        except BaseException:
            self.breaker.abandoned()
            raise
        self.breaker.succeeded()
        return data
