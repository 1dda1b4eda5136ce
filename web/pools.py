"""Bounded pools for CPU-heavy work, so the event loop only ever waits on futures.

Meshes go to processes (numpy releases the GIL only in places; a 1 M-triangle simplification
would stall every tablet for a second). A worker process that dies (out of memory on a hostile
upload, say) breaks a ProcessPoolExecutor for good, so the pool is rebuilt on the next call.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from core.errors import Invalid

T = TypeVar("T")


class MeshPool:
    def __init__(self, workers: int = 1, tasks_per_child: int = 25) -> None:
        self._workers = workers
        self._tasks_per_child = tasks_per_child
        self._executor: ProcessPoolExecutor | None = None

    @property
    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # "spawn": children start clean, without copies of the server's sockets and threads.
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=self._tasks_per_child,
            )
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, fn, *args)
        except BrokenProcessPool:
            self.close()
            raise Invalid(
                "Processing this file stopped the processing worker (it may need "
                "more memory than this server allows)."
            ) from None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
