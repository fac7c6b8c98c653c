"""The cache's audit log: what operators removed from it, when, who, and why.

Append-only, in the store itself (so it is shared by every replica and backed up with the cache):
each action is one new object ``.gomodproxy/audit/<nanoseconds>-<random>.json`` that is never
rewritten, so concurrent writers never lose each other's entries and the key order is the time
order. Nothing in gomodproxy deletes them.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass

from gomodproxy.storage import ObjectNotFound, ObjectStore

__all__ = ["AUDIT_PREFIX", "AuditEntry", "append_audit", "read_audit"]

logger = logging.getLogger(__name__)

#: Where the audit entries live in the store (never served).
AUDIT_PREFIX = ".gomodproxy/audit/"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One operator action: ``action`` (``rm``) on ``target`` (``path`` or ``path@version``),
    the files it removed (keys) and the bytes they held."""

    action: str
    target: str
    reason: str
    user: str
    time: float
    removed: tuple[str, ...] = ()
    freed: int = 0

    def to_json(self) -> bytes:
        """The stored form."""
        doc = {
            "action": self.action,
            "target": self.target,
            "reason": self.reason,
            "user": self.user,
            "time": self.time,
            "removed": list(self.removed),
            "freed": self.freed,
        }
        return json.dumps(doc, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> AuditEntry:
        """Parse the stored form; ValueError when it is not one."""
        try:
            doc = json.loads(data)
            return cls(
                action=str(doc["action"]),
                target=str(doc["target"]),
                reason=str(doc["reason"]),
                user=str(doc["user"]),
                time=float(doc["time"]),
                removed=tuple(str(k) for k in doc["removed"]),
                freed=int(doc["freed"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an audit entry: {exc}") from exc


async def append_audit(store: ObjectStore, entry: AuditEntry) -> str:
    """Add ``entry`` to the log as a new object; returns its key."""
    key = f"{AUDIT_PREFIX}{int(entry.time * 1e9):020d}-{secrets.token_hex(4)}.json"
    await store.put(key, entry.to_json())
    logger.info(
        "audit.recorded action=%s target=%s user=%s files=%d",
        entry.action,
        entry.target,
        entry.user,
        len(entry.removed),
    )
    return key


async def read_audit(store: ObjectStore) -> list[tuple[str, AuditEntry]]:
    """Every entry with its key, oldest first (unreadable ones are logged and skipped)."""
    out: list[tuple[str, AuditEntry]] = []
    for key in await store.list(AUDIT_PREFIX):
        try:
            out.append((key, AuditEntry.from_json(await store.get(key))))
        except ObjectNotFound:
            continue
        except ValueError:
            logger.warning("audit.unreadable key=%s", key)
    return out
