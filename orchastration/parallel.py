"""A function over many items in a few threads, results in input order (``verify``, ``prune``).

Worth it for I/O: hashlib releases the GIL while it digests, and a loaded disk answers several
``unlink`` calls at once far sooner than one after another. Each thread takes every n-th item (one task
per thread, not per item), so a thousand cheap items cost no more than a plain loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_THREADS = 8
MIN_ITEMS_PER_THREAD = 16  # fewer items than this per extra thread: a plain loop


def ordered_map(fn: Callable[[T], R], items: Sequence[T], min_per_thread: int = MIN_ITEMS_PER_THREAD) -> list[R]:
    """``[fn(x) for x in items]``, spread over up to ``MAX_THREADS`` threads when there are enough items.
    An exception in ``fn`` is raised here (after the other threads finish their share)."""
    threads = min(MAX_THREADS, (os.cpu_count() or 1) + 4, len(items) // max(1, min_per_thread))
    if threads < 2:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    results: list[R | None] = [None] * len(items)

    def share(first: int) -> None:
        for i in range(first, len(items), threads):
            results[i] = fn(items[i])

    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(share, k) for k in range(threads)]:
            done.result()
    return results  # type: ignore[return-value]  # every slot was filled
