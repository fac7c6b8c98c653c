"""HTTP ``Range`` and conditional-request rules for stored zips (RFC 9110, catalogue A12)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["UNSATISFIABLE", "etag_matches", "parse_range"]

#: Returned by :func:`parse_range` when the range cannot be met (answer 416).
UNSATISFIABLE = (-1, -1)


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, ``*`` matches)."""
    if header is None:
        return False
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def parse_range(headers: Mapping[str, str], size: int, etag: str) -> tuple[int, int] | None:
    """The one byte range to serve as ``(start, end_inclusive)``; None for the whole body.

    Several ranges, an unknown unit or a malformed header mean "send everything" (allowed by
    RFC 9110); an ``If-Range`` naming another entity tag too. :data:`UNSATISFIABLE` when the
    single range starts past the end.
    """
    header = headers.get("Range")
    if header is None:
        return None
    if_range = headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or not last.isdigit():
                return UNSATISFIABLE if last.isdigit() else None
            start, end = max(0, size - suffix), size - 1
        else:
            if not first.isdigit() or (last and not last.isdigit()):
                return None
            start = int(first)
            end = int(last) if last else size - 1
            if last and end < start:
                return None
            end = min(end, size - 1)
    except ValueError:
        return None
    if size == 0 or start >= size:
        return UNSATISFIABLE
    return start, end
