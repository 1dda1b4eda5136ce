"""Exactly one active worker per deployment.

The worker dispatches print jobs and processes uploads; two of them would start a print twice.
Whoever holds the lock is the worker; the others wait and take over when it goes away. On
PostgreSQL the lock is a session-level advisory lock, released by the server when the holder's
connection dies (a crashed worker cannot keep it). The embedded SQLite deployment is one machine,
so an exclusive lock on a file beside the database does the same (the kernel releases it when the
process dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# An arbitrary constant naming "the smartlib worker" among advisory locks.
WORKER_LOCK_KEY = 0x5A17_11B0


class WorkerLock:
    def __init__(self, engine: AsyncEngine, data_dir: Path) -> None:
        self._engine = engine
        self._backend = make_url(str(engine.url)).get_backend_name()
        self._path = data_dir / "worker.lock"
        self._fd: int | None = None
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._backend == "postgresql":
            conn = await self._engine.connect()
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": WORKER_LOCK_KEY})
            await conn.commit()
            if got:
                self._conn = conn
                return True
            await conn.close()
            return False
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        """False when the lock was lost (on PostgreSQL: the connection died)."""
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
            except Exception:
                await self._drop_connection()
                return False
        return self.held

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": WORKER_LOCK_KEY}
                )
                await self._conn.commit()
            await self._drop_connection()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    async def _drop_connection(self) -> None:
        conn: Any = self._conn
        self._conn = None
        with contextlib.suppress(Exception):
            await conn.close()
