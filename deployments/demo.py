"""`renkei demo`: the trial environment, one full sync and a plan, in under a minute.

Each step prints a line with the seconds since the start (stand-ins seeded, the cut staged, every
stream of every target loaded, the plan written), then the counts, the first rejections with the
person and the reason, and where everything is: every line in the CLI's language (LANG: Japanese,
English, or both side by side, as every command). ``--port-base N`` moves every
port (the stand-ins, SMTP, the Prefect server) to N, N+1, … and the demo's folder to var/demo-N, so
a second demo runs beside the first without touching it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from rich.console import Console

from deployments.demo_public import PUBLIC_SPEC, drop_admin_export
from deployments.serve import build_deployments, serve_specs
from deployments.server import DEFAULT_PORT, local_server, recorded_locally
from flows.console import quiet_console
from flows.deployed import run_deployed
from flows.plan import plan
from flows.progress import timed_lines
from flows.report import print_report
from flows.states import report_of
from flows.sync import sync
from sandbox.demo_env import DemoEnvironment, DemoPorts
from schemas import clock
from schemas.messages import RUN_OUTCOMES, Language, cli_language, in_language
from schemas.rejected import RowContext, person_fields
from schemas.report import RunReport
from schemas.validate import load_spec

DEMO_SPEC = Path("examples/demo.yaml")
DEMO_FOLDER = Path("var/demo")
FIRST_REJECTIONS = 5


def demo_ports(port_base: int | None) -> tuple[DemoPorts, int]:
    """The stand-ins' ports and the Prefect server's: the demo spec's own, or N, N+1, … N+5."""
    if port_base is None:
        return DemoPorts(), DEFAULT_PORT
    if not 1024 <= port_base <= 65_535 - 5:
        raise ValueError(f"--port-base {port_base}: choose a port from 1024 to 65530 (six in a row are used)")
    return DemoPorts(*range(port_base, port_base + 5)), port_base + 5


def run_demo(
    console: Console, serve: bool = False, port_base: int | None = None, ui_port: int | None = None
) -> int:
    """Start every stand-in, sync once (all targets, both ways), plan once, print where things are.

    The runs are recorded in var/prefect's database (or the local server when one is up); with
    ``serve`` the Prefect server with its UI then starts and serves the deployments.
    """
    ports, default_ui = demo_ports(port_base)
    ui_port = ui_port or default_ui
    folder = DEMO_FOLDER if port_base is None else DEMO_FOLDER.with_name(f"demo-{port_base}")
    language = cli_language(os.environ.get("LANG"))  # as every other command: ja, en, or both
    if not serve:
        with recorded_locally(port=ui_port):
            return _run_demo(console, ports, folder, None, language)
    with local_server(ui_port) as ui:
        console.print(f"Prefect UI: {ui}", highlight=False)
        return _run_demo(console, ports, folder, ui_port, language)


def _run_demo(
    console: Console, ports: DemoPorts, folder: Path, serve_port: int | None, language: Language
) -> int:
    started = time.monotonic()
    spec = load_spec(DEMO_SPEC)

    def words(ja: str, en: str) -> str:
        return in_language(ja, en, language)

    targets = ", ".join(t.name for t in spec.targets)
    console.print(
        f"{DEMO_SPEC}: "
        + words(
            f"有効です — 会社 {spec.company}、連携先 {targets}",
            f"valid — company {spec.company}, targets: {targets}",
        )
    )
    if clock.moved():
        at = clock.now().astimezone(ZoneInfo(spec.timezone))
        console.print(f"時計 clock: {at:%Y-%m-%d %H:%M:%S %Z} (RENKEI_NOW / RENKEI_CLOCK_OFFSET)")
    with DemoEnvironment(folder, ports=ports) as env:
        with timed_lines(console, started) as say:
            people, actions, cards = (
                f"{n:,}" for n in (env.sizes.customers, env.sizes.actions, env.sizes.cards)
            )
            say(
                words(
                    f"スタンドイン（各サービスの模擬サーバー）にデータを投入: 顧客 {people} 件、"
                    f"行動履歴 {actions} 件、名刺 {cards} 枚",
                    f"stand-ins seeded: {people} customers, {actions} actions, {cards} cards",
                )
            )
            listening = "MA :{}, kintone :{}, Salesforce :{} (HTTPS), Sansan :{}, SMTP :{}".format(
                *astuple(ports)
            )
            say(words(f"スタンドイン起動: {listening}", f"stand-ins up: {listening}"))
            say(
                words(
                    "Prefect: デモのデプロイメントを登録します（先にローカル API が起動します。約 15 秒）",
                    "Prefect: registering the demo's deployments (its local API starts first, about 15 s)",
                )
            )
            spec_path = _spec_for(env) if ports != DemoPorts() else DEMO_SPEC
            for deployment in build_deployments(spec_path):  # the demo's runs are listed under them
                deployment.apply()
            say(
                words(
                    "sync: MA のカットをステージングし、各連携先へ反映し、連携先の変更を MA へ書き戻します",
                    "sync: stage the MA's cut, load every target, write the targets' changes back",
                )
            )
            report = _sync_once(spec_path, "sync", console, language, say)
            if report is None:
                return 1
        _show(report, console, language, spec_path)
        planned = run_deployed(plan, str(spec_path)).result()  # its reads are not loads: no lines
        public_spec = _spec_for(env, PUBLIC_SPEC, "public")  # the MA as a user without the option reaches it
        with timed_lines(console, started) as say:
            say(
                words(
                    "plan 作成: 次の sync で変わる内容（何も送信していません）",
                    "plan written: what a next sync would change (nothing sent)",
                )
            )
            say(drop_admin_export(env, public_spec, language))
            public = _sync_once(public_spec, "sync (ma.access: public)", console, language, say)
            if public is None:
                return 1
        _show(public, console, language, public_spec)
        mails = len(env.mail.messages) if env.mail else 0
        stored = load_spec(spec_path).storage
        mailed = words(
            f"{mails} 通を {folder / 'mail'} に保存", f"{mails} message(s) captured in {folder / 'mail'}"
        )
        for ja, en, value in (
            ("ステージング", "staging", stored.staging),
            ("状態 DB", "state", stored.state),
            ("plan", "plan", f"{planned.changes} (summary {planned.summary})"),
            ("メール", "mail", mailed),
        ):
            console.print(f"{words(ja, en)}: {value}")
        console.print(words("完了: {s:.0f} 秒", "done in {s:.0f} s").format(s=time.monotonic() - started))
        if serve_port is None:
            runs = words("Prefect UI で実行を見るには", "the runs in the Prefect UI")
            console.print(f"{runs}: .venv/bin/renkei demo --serve", highlight=False)
        else:  # joins the server started above
            serve_specs([spec_path], serve_port, lambda line: console.print(line, highlight=False))
    return 0 if "failed" not in (report.outcome, public.outcome) else 1


def _sync_once(
    spec_path: Path, label: str, console: Console, language: Language, say: Callable[[str], None]
) -> RunReport | None:
    """One sync of ``spec_path`` as a run of its deployment, its outcome said; None without a report.
    The run's own log lines stay in the Prefect UI: the table after it says the same, once."""
    with quiet_console():
        report = report_of(run_deployed(sync, str(spec_path)))
    if report is None:
        ja = f"{label} はレポートなしで終了しました: Prefect UI でその実行を確認してください"
        console.print(
            f"{in_language(ja, f'{label} ended without a report: see its run in the Prefect UI', language)}"
        )
    else:
        say(f"{label}: {RUN_OUTCOMES[report.outcome].reason(language)}")
    return report


def _show(report: RunReport, console: Console, language: Language, spec_path: Path) -> None:
    """The counts table and the first rejected rows, each naming the person (from the spec's map)."""
    people = RowContext(person_fields(load_spec(spec_path)), {})
    print_report(report, console, language, context=people, shown=FIRST_REJECTIONS, spec_path=str(spec_path))


def _spec_for(env: DemoEnvironment, template: Path = DEMO_SPEC, within: str = "") -> Path:
    """``template`` pointed at this environment's ports and folder (``--port-base``), written there."""
    path = env.folder / within / template.name
    path.parent.mkdir(parents=True, exist_ok=True)
    document = env.spec_document(template, within)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path
