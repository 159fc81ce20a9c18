"""Loading one target: customers (skipping unchanged ones by the link hash) and action histories.

Every row ends loaded, skipped, rejected (kept in the quarantine with the target's own message) or
deferred; the counts of each stream add up, and the caller moves a watermark only when nothing was
deferred.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from connectors.state import Rejection, StateStore
from schemas.actions import action_record
from schemas.mapping import FieldMap, TargetRecord, jsonable, outbound_record, values_hash
from schemas.messages import Language, cli_language, in_language
from schemas.outcomes import Counts, RowOutcome, Status, count_outcomes
from schemas.rejected import stream_label
from tasks.pause import pause_point

FIRST_ERRORS = 20
progress = logging.getLogger("renkei.progress")  # a line per stream loaded: the CLI prints it as it happens
Record = tuple[str, dict[str, Any]]


@runtime_checkable
class Destination(Protocol):
    """A target the MA's customers, action histories and masters are loaded into (kintone, Salesforce)."""

    name: str

    @property
    def batch_rows(self) -> int:
        """How many rows to hand over at a time for the fewest round trips (the writer's capacity)."""
        ...

    def upsert_customers(self, records: list[Record]) -> list[RowOutcome]: ...

    def upsert_actions(self, kind: str, records: list[Record]) -> list[RowOutcome]: ...

    def upsert_masters(self, kind: str, records: list[Record]) -> list[RowOutcome]: ...

    def close(self) -> None: ...


@runtime_checkable
class ChangeSource(Protocol):
    """A target whose changed records are written back into the MA (kintone, Salesforce, Sansan)."""

    name: str

    def changed_records(self, since: datetime | None) -> Iterator[list[TargetRecord]]: ...

    def read_rejections(self) -> list[RowOutcome]:
        """Rows the adapter itself refused while reading (e.g. a card without email); usually none."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class TwoWay(Destination, ChangeSource, Protocol):
    """A target loaded from the MA and read back into it (kintone, Salesforce)."""


class SourceOnlyError(TypeError):
    """Something tried to load into a target that only feeds the MA (Sansan)."""


def as_destination(adapter: Destination | ChangeSource) -> Destination:
    """``adapter`` as a destination, or SourceOnlyError naming it: a source is never written to."""
    if isinstance(adapter, Destination):
        return adapter
    raise SourceOnlyError(
        f"target {adapter.name} is a source only (→ MA): customers, action histories and masters cannot"
        " be written into it; only its write-back runs"
    )


def as_source(adapter: Destination | ChangeSource) -> ChangeSource:
    """``adapter`` as a source of changes to write back (every kind renkei has is one)."""
    if isinstance(adapter, ChangeSource):
        return adapter
    raise TypeError(f"target {adapter.name}: its changes cannot be read")


@dataclass
class StreamReport:
    """One target and stream in one run: the counts and the first rejections."""

    target: str
    stream: str
    counts: Counts = field(default_factory=Counts)
    errors: list[RowOutcome] = field(default_factory=list)
    rejected_keys: set[str] = field(default_factory=set)

    def add(self, outcomes: list[RowOutcome]) -> None:
        self.counts = self.counts + count_outcomes(outcomes)
        self.rejected_keys.update(o.key for o in outcomes if o.status is Status.REJECTED)
        room = FIRST_ERRORS - len(self.errors)
        if room > 0:
            self.errors += [o for o in outcomes if o.status is Status.REJECTED][:room]

    @property
    def deferred(self) -> bool:
        return self.counts.deferred > 0


def progress_language() -> Language:
    """The language of progress lines: the CLI's, from ``LANG`` (only a CLI command prints them)."""
    return cli_language(os.environ.get("LANG"))


def announce(report: StreamReport) -> None:
    """``kintone-customers 行動履歴（フォーム）: 128 件 — 反映 128``: one stream done (shown by ``renkei
    demo``), in the CLI's language (``actions:form: 128 rows — loaded 128`` in English)."""
    language, counts = progress_language(), report.counts
    shown = [
        (ja, en, n)
        for ja, en, n in (
            ("反映", "loaded", counts.loaded),
            ("変更なし", "unchanged", counts.skipped),
            ("エラー", "rejected", counts.rejected),
            ("次回へ", "deferred", counts.deferred),
        )
        if n or en == "loaded"
    ]
    ja = "、".join(f"{word} {n:,}" for word, _, n in shown)
    en = ", ".join(f"{word} {n:,}" for _, word, n in shown)
    stream = stream_label(report.stream, "ja") if language == "ja" else report.stream
    unit = "rows" if language == "en" else "件"
    progress.info(
        "%s %s: %s %s — %s",
        report.target,
        stream,
        f"{counts.received:,}",
        unit,
        in_language(ja, en, language),
    )


def record_outcomes(
    state: StateStore,
    run_id: str,
    report: StreamReport,
    sent: dict[str, dict[str, Any]],
    outcomes: list[RowOutcome],
    *,
    link: bool,
) -> None:
    """Quarantine the rejected rows, remember what was loaded, count everything."""
    rejections = [
        Rejection(
            o.key, _jsonable(sent.get(o.key, o.payload or {})), o.code or "rejected", o.message or "", o.field
        )
        for o in outcomes
        if o.status is Status.REJECTED
    ]
    state.quarantine_rows(run_id, report.target, report.stream, rejections)
    if link:
        state.save_links(
            report.target,
            report.stream,
            [
                (o.key, o.target_id, values_hash(sent[o.key]))
                for o in outcomes
                if o.status.loaded and o.key in sent
            ],
        )
    report.add(outcomes)


def load_customers(
    target: Destination,
    fmap: FieldMap,
    batches: Iterable[list[dict[str, Any]]],
    state: StateStore,
    run_id: str,
) -> StreamReport:
    """Send changed customers; a customer whose record hashes as last sent is skipped unsent."""
    report = StreamReport(target.name, "customers")
    for customers in batches:
        keyed = [(str(c[fmap.key_ma]), c) for c in customers if c.get(fmap.key_ma)]
        missing = [RowOutcome.rejected(str(c.get("email") or c.get("customer_id")), "key_missing",
                                       f"the customer has no {fmap.key_ma}", fmap.key_ma)
                   for c in customers if not c.get(fmap.key_ma)]  # fmt: skip
        links = state.link_hashes(report.target, report.stream, [k for k, _ in keyed])
        records = {key: outbound_record(c, fmap, new=key not in links) for key, c in keyed}
        unchanged = [
            RowOutcome.unchanged(key, links[key][0])
            for key, record in records.items()
            if key in links and links[key][1] == values_hash(record)
        ]
        skip = {o.key for o in unchanged}
        to_send = [(key, record) for key, record in records.items() if key not in skip]
        outcomes = complete(target.upsert_customers(to_send), [k for k, _ in to_send]) if to_send else []
        pause_point("load-batch")
        record_outcomes(state, run_id, report, records, [*outcomes, *missing], link=True)
        report.add(unchanged)
    return report


KEY_COLUMNS = {"actions": "event_id", "masters": "id"}


def load_keyed(
    target: Destination,
    stream: Literal["actions", "masters"],
    kind: str,
    fields: dict[str, str],
    batches: Iterable[list[dict[str, Any]]],
    state: StateStore,
    run_id: str,
) -> StreamReport:
    """Upsert one action history (by event id) or one master (by master id, フォーム・キャンペーン …)
    as its own stream: a re-run updates, never duplicates.

    A row the target was sent already with the same values is counted unchanged and not sent.
    """
    write = target.upsert_actions if stream == "actions" else target.upsert_masters
    report = StreamReport(target.name, f"{stream}:{kind}")
    for rows in batches:
        records = {str(row[KEY_COLUMNS[stream]]): action_record(row, fields) for row in rows}
        links = state.link_hashes(report.target, report.stream, records)
        unchanged = [
            RowOutcome.unchanged(key, links[key][0])
            for key, record in records.items()
            if key in links and links[key][1] == values_hash(record)
        ]
        to_send = [(key, r) for key, r in records.items() if key not in {o.key for o in unchanged}]
        outcomes = complete(write(kind, to_send), [k for k, _ in to_send]) if to_send else []
        pause_point("load-batch")
        record_outcomes(state, run_id, report, records, outcomes, link=True)
        report.add(unchanged)
    return report


def _jsonable(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v if v is None or isinstance(v, str | int | float | bool | list) else jsonable(v)
        for k, v in record.items()
    }


def complete(outcomes: list[RowOutcome], sent: Iterable[str]) -> list[RowOutcome]:
    """Every sent key has an outcome: a key the target did not answer for is rejected, never lost."""
    answered = {o.key for o in outcomes}
    missing = [
        RowOutcome.rejected(
            key, "no_result", "the target returned no result for this row: it is kept for replay"
        )
        for key in sent
        if key not in answered
    ]
    return [*outcomes, *missing]
