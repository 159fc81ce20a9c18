"""The retry rule of every step (Prefect's ``retry_condition_fn``): the error policy's, as the HTTP layer's.

Transient HTTP errors are retried inside the connectors; a step is retried as a whole only when
what stopped it is one the policy retries (a target still down), never a refused credential.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, runtime
from prefect.client.schemas.objects import State, TaskRun

from schemas.errors import error_rule
from schemas.messages import cli_language, lookup, retry_notice

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("renkei.steps")
_attempts: dict[str, int] = {}  # requests sent so far by a failing task run (its retries share its id)


def still_down(exc: BaseException) -> bool:
    """True for failures a later attempt may not meet: the error policy retries them (schemas/errors.py)."""
    rule = error_rule(exc)
    return rule is not None and rule.retried


def retry_when_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's ``retry_condition_fn`` of every step: retried as the HTTP layer would; the person
    running it sees one line saying so (the wait is otherwise silent)."""
    try:
        state.result()
    except Exception as exc:
        rule = error_rule(exc)
        if rule is None or not rule.retried:
            return False
        language = cli_language(os.environ.get("LANG"))
        delays = task.retry_delay_seconds if isinstance(task.retry_delay_seconds, list) else [0]
        delay = int(delays[max(1, min(task_run.run_count, len(delays))) - 1])
        log.warning("%s: %s", task_run.name, retry_notice(lookup(rule.message), delay, language))
        return True
    return False


def counted_attempts(step: Callable[P, R]) -> Callable[P, R]:
    """A step whose exception tells how many requests its tries sent in all (``attempts``)."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        key = runtime.task_run.id  # None when called outside a task run (``.fn()``): nothing to add up
        try:
            result = step(*args, **kwargs)
        except Exception as exc:
            if key is not None:
                _attempts[key] = _attempts.get(key, 0) + int(getattr(exc, "attempts", 1))
                exc.attempts = _attempts[key]  # type: ignore[attr-defined]
            raise
        _attempts.pop(key or "", None)
        return result

    return run
