"""Reads that overlap their round trips: independent parts of one read fetched a few at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def spread(parts: Iterable[Callable[[], T]], workers: int, name: str = "read") -> Iterator[T]:
    """Each part's result as soon as it is done (not in order), at most ``workers`` parts running.

    Parts are started only as results are taken, so a slow consumer holds at most ``workers`` results;
    closing the iterator early cancels the parts not started, and an exception in a part is raised here.
    """
    todo = iter(parts)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix=name) as pool:
        running: set[Future[T]] = {pool.submit(part) for part in islice(todo, max(1, workers))}
        try:
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    running |= {pool.submit(part) for part in islice(todo, 1)}
        finally:
            for future in running:
                future.cancel()
