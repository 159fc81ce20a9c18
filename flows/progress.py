"""Progress bars for long CLI work; inside a deployment (no bar installed) these calls do nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_current: Progress | None = None


@contextmanager
def cli_progress() -> Iterator[Progress]:
    """Show bars for the steps a flow announces while this block runs."""
    global _current
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )
    _current = progress
    try:
        with progress:
            yield progress
    finally:
        _current = None


@contextmanager
def step(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A bar of ``total`` units; the yielded function advances it by one."""
    if _current is None:
        yield lambda: None
        return
    task_id = _current.add_task(description, total=total)
    progress = _current
    yield lambda: progress.advance(task_id)
