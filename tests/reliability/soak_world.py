"""The world the soak and crash tests run in: the demo environment with faults, changed between runs.

Every stand-in of `renkei demo` runs on free loopback ports with seeded faults; the spec is the demo
spec pointed at them, except that Salesforce owns ``title`` (target_wins), so both kintone
(商談ステージ) and Salesforce (Title) have a field whose edits must reach the MA. Between runs the MA
gains and changes customers and records actions, kintone and Salesforce records are edited, Sansan
gets new cards, and the MA's clock moves past the next cut. What the targets wrote is remembered,
so the end state can be checked against it (``tests/reliability/end_state.py``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from connectors.satori import SatoriClient
from sandbox.demo_env import MA_TOKEN, DemoEnvironment
from sandbox.salesforce.store import LockFault
from sandbox.satori.seed_data import master_rows
from schemas import clock
from schemas.spec import Spec
from schemas.validate import load_spec
from tasks.targets.kintone import KintoneTarget
from tasks.targets.salesforce import SalesforceTarget

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
TOKYO = ZoneInfo("Asia/Tokyo")
CUT_HOURS = (2, 11)
KINTONE, SALESFORCE, SANSAN = "kintone-customers", "salesforce-leads", "sansan-cards"
TITLES = ("部長", "課長", "主任", "係長", "担当", "マネージャー")
ACTION_KINDS = ("form", "email", "campaign")
STAGES = ("受注", "失注")  # options both the kintone demo app and the MA's sales_stage accept


def _set_title(sf: Any, lead_id: str, title: str) -> Any:
    return sf.Lead.update(lead_id, {"Title": title})


class CountingLockFault(LockFault):
    """The Salesforce stand-in's UNABLE_TO_LOCK_ROW fault, counting what it injected."""

    injected: int = 0

    def hits(self) -> bool:
        hit = super().hits()
        self.injected += hit
        return hit


@dataclass(frozen=True)
class Sizes:
    """How much changes between two runs."""

    new_customers: int = 6
    updated_customers: int = 6
    actions: int = 30
    kintone_edits: int = 3
    salesforce_edits: int = 3
    new_cards: int = 3
    squatters: int = 1

    def scaled(self, factor: int) -> Sizes:
        """Every change ``factor`` times larger (the long soak)."""
        return Sizes(*(getattr(self, f) * factor for f in self.__dataclass_fields__))


@dataclass
class Written:
    """What the world expects: values targets wrote into the MA, and refused customers."""

    ma_values: dict[tuple[str, str], Any] = field(default_factory=dict)
    squatted: set[str] = field(default_factory=set)  # emails kintone refuses (hashcode held elsewhere)
    rounds: int = 0


def soak_spec(env: DemoEnvironment, path: Path, **changes: Any) -> Spec:
    """The demo spec on the environment's ports, with Salesforce owning Title (``changes``: top-level
    keys replaced, e.g. ``company`` and ``storage`` for the distributed test)."""
    doc = env.spec_document(DEMO) | changes
    for target in doc["targets"]:
        if target["name"] == SALESFORCE:
            target["map"]["title"] = {"target": "Title", "conflict": "target_wins"}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_spec(path)


def seeded_until() -> datetime:
    """18:00 JST nine days before the clock's today: the soak world's MA data ends there and its MA
    clock starts nine hours later, an hour past a 02:00 cut, as when docs/RELIABILITY.md's figures
    were recorded (then 2026-11-28 18:00 and 11-29 03:00)."""
    day = clock.now().astimezone(TOKYO).date() - timedelta(days=9)
    return datetime.combine(day, time(18), TOKYO)


def next_cut_after(moment: datetime) -> datetime:
    day = moment.astimezone(TOKYO).date()
    for offset in range(2):
        for hour in CUT_HOURS:
            at = datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO) + timedelta(days=offset)
            if at > moment:
                return at
    raise AssertionError("no cut within two days")


class World:
    """The running environment, its spec, and the changes made to it so far."""

    def __init__(
        self, env: DemoEnvironment, folder: Path, seed: int, sizes: Sizes | None = None, **spec: Any
    ):
        self.env = env
        self.rng = random.Random(seed)
        self.seed = seed
        self.sizes = sizes or Sizes()
        self.spec_path = folder / "soak.yaml"
        self.spec = soak_spec(env, self.spec_path, **spec)
        self.ma = SatoriClient(env.servers["satori"].url, MA_TOKEN)
        self.written = Written()
        self.created: list[str] = []
        self.lock_fault = CountingLockFault()
        env.servers["salesforce"].app.state.org.lock_fault = self.lock_fault
        self.masters = {kind: [m for k, m, _ in master_rows() if k == kind] for kind in ACTION_KINDS}
        assert env.now is not None, "the environment is started"
        self.clock = env.now + timedelta(hours=9)
        self._sandbox("satori", "PUT", "/_sandbox/clock", {"now": self.clock.isoformat()})

    def close(self) -> None:
        self.ma.close()

    def _sandbox(self, name: str, method: str, path: str, body: Any = None) -> Any:
        server = self.env.servers[name]
        verify: bool | str = (
            str(self.env.data / "salesforce" / "salesforce-ca.pem") if name == "salesforce" else True
        )
        headers = {"Authorization": f"Bearer {MA_TOKEN}"} if name == "satori" else {}
        response = httpx.request(method, server.url + path, json=body, headers=headers, verify=verify)
        response.raise_for_status()
        return response.json()

    def lock_faults(self, rate: float, seed: int) -> None:
        """Salesforce refuses a seeded share of row writes with UNABLE_TO_LOCK_ROW (partial batches)."""
        self.lock_fault.rate = rate
        self.lock_fault.rng.seed(seed)

    def faults_off(self) -> None:
        for name in self.env.servers:
            self._sandbox(name, "PUT", "/_sandbox/faults", {"rate": 0.0})
        self.lock_faults(0.0, 0)

    def injected(self) -> Counter[str]:
        """Faults injected so far, by kind, over every stand-in."""
        total: Counter[str] = Counter()
        for name in self.env.servers:
            total.update(self._sandbox(name, "GET", "/_sandbox/faults")["injected"])
        total["lock"] = self.lock_fault.injected
        return total

    def advance(self) -> None:
        """The MA's clock past the next cut: the changes made so far fall into that cut."""
        self.clock = next_cut_after(self.clock) + timedelta(minutes=30)
        self._sandbox("satori", "PUT", "/_sandbox/clock", {"now": self.clock.isoformat()})

    def change_both_sides(self) -> None:
        """One round of changes in the MA and every target, then the clock past the next cut."""
        self.written.rounds += 1
        self._ma_changes()
        self._kintone_edits()
        self._salesforce_edits()
        self._new_cards()
        self.advance()

    def ma_customers(self) -> dict[str, dict[str, Any]]:
        return {c["email"]: c for page in self.ma.iter_search([], order="customer_id") for c in page}

    def _ma_changes(self) -> None:
        r, sizes = self.written.rounds, self.sizes
        fresh = [
            {
                "email": f"soak-{self.seed}-{r}-{i}@example.co.jp",
                "last_name": self.rng.choice(("佐藤", "鈴木", "高橋", "田中")),
                "first_name": self.rng.choice(("花子", "太郎", "一郎", "さくら")),
                "lead_company_name": f"株式会社ソーク{r}",
                "department": "営業部",
                "title": self.rng.choice(TITLES),
                "phone_number": f"03-{r:04d}-{i:04d}",
            }
            for i in range(sizes.new_customers)
        ]
        existing = sorted(self.ma_customers())
        picked = self.rng.sample(existing, min(sizes.updated_customers, len(existing)))
        updates = [
            {"email": e, "department": f"第{r}営業部", "phone_number": f"06-{r:04d}-{n:04d}"}
            for n, e in enumerate(picked)
        ]
        outcomes = self.ma.bulk_upsert([*fresh, *updates])
        assert all(o.status.loaded for o in outcomes), outcomes
        self.created += [c["email"] for c in fresh]
        self._squat([c["email"] for c in fresh[: sizes.squatters]])
        people = self.rng.choices(existing + self.created, k=sizes.actions)
        actions = []
        for n, email in enumerate(people):
            kind = self.rng.choice(ACTION_KINDS)
            at = self.clock + timedelta(seconds=n + 1)
            actions.append(
                {
                    "kind": kind,
                    "email": email,
                    "master_id": self.rng.choice(self.masters[kind]),
                    "event_type": "submitted" if kind == "form" else "opened",
                    "occurred_at": at.isoformat(),
                    "recorded_at": at.isoformat(),
                }
            )
        self._sandbox("satori", "POST", "/_sandbox/actions", actions)

    def _squat(self, emails: list[str]) -> None:
        """A kintone record a user typed holds a new customer's hashcode: kintone refuses that customer."""
        found = self.ma.bulk_get(emails=emails)
        adapter = KintoneTarget(self.spec, self.spec.target(KINTONE))
        try:
            rows = [
                {"メールアドレス": f"typed-{c['hashcode'][:8]}@example.co.jp", "顧客ハッシュ": c["hashcode"]}
                for c in found
            ]
            outcomes = adapter.client.upsert_records(adapter.app, "メールアドレス", rows)
            assert all(o.status.loaded for o in outcomes), outcomes
        finally:
            adapter.close()
        self.written.squatted.update(c["email"] for c in found)

    def _editable(self) -> list[str]:
        """Customers created by the world in an earlier round (loaded by now), never refused."""
        earlier = [e for e in self.created if not e.startswith(f"soak-{self.seed}-{self.written.rounds}-")]
        return [e for e in earlier if e not in self.written.squatted]

    def _kintone_edits(self) -> None:
        emails = self.rng.sample(self._editable(), min(self.sizes.kintone_edits, len(self._editable())))
        if not emails:
            return
        adapter = KintoneTarget(self.spec, self.spec.target(KINTONE))
        try:
            rows = {e: self.rng.choice(STAGES) for e in emails}
            outcomes = adapter.client.update_records(
                adapter.app,
                "メールアドレス",
                [{"メールアドレス": e, "商談ステージ": s} for e, s in rows.items()],
            )
        finally:
            adapter.close()
        for outcome in outcomes:
            if outcome.status.loaded:
                self.written.ma_values[(outcome.key, "custom:sales_stage")] = rows[outcome.key]

    def _salesforce_edits(self) -> None:
        emails = self.rng.sample(self._editable(), min(self.sizes.salesforce_edits, len(self._editable())))
        if not emails:
            return
        adapter = SalesforceTarget(self.spec, self.spec.target(SALESFORCE))
        rate, self.lock_fault.rate = self.lock_fault.rate, 0.0  # a user's own edit is not under test
        try:
            leads = adapter.client.find_by("Lead", "Email", emails, ["Email"])
            for lead in leads:
                title = f"{self.rng.choice(TITLES)}{self.written.rounds}"
                adapter.client.call(partial(_set_title, lead_id=lead["Id"], title=title))
                self.written.ma_values[(lead["Email"], "title")] = title
        finally:
            self.lock_fault.rate = rate
            adapter.close()

    def _new_cards(self) -> None:
        r = self.written.rounds
        cards = []
        for i in range(self.sizes.new_cards):
            email = f"card-{self.seed}-{r}-{i}@example.co.jp"
            card = {
                "email": email,
                "lastName": "名刺",
                "firstName": f"{r}の{i}",
                "lastNameReading": "メイシ",
                "firstNameReading": "タロウ",
                "companyName": f"名刺交換株式会社{r}",
                "title": "代表取締役",
                "exchangeDate": "2026-11-20",
                "entryStatus": "completed",
            }
            cards.append(card)
            expect = {
                "last_name": "名刺",
                "first_name": card["firstName"],
                "last_name_reading": "メイシ",
                "first_name_reading": "タロウ",
                "lead_company_name": card["companyName"],
                "title": "代表取締役",
                "custom:first_contact": "2026-11-20",
            }
            self.written.ma_values.update({(email, k): v for k, v in expect.items()})
        self._sandbox("sansan", "POST", "/_sandbox/cards", {"cards": cards})
