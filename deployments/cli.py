"""The `renkei` command line."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sandbox.cli import sandbox_app
from schemas import clock
from schemas.catalog import catalog
from schemas.messages import cli_language, in_language, problem_text
from schemas.spec import Spec, SpecError
from schemas.spec_keys import unknown_targets
from schemas.validate import load_spec, validate_spec_file
from tasks.extract import StagedCut

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

    from tasks.replay import ReplayResult

for _name, _value in (("DO_NOT_TRACK", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false")):
    os.environ.setdefault(_name, _value)

EXIT_CODES = """Exit codes (終了コード): 0 completed — rejected rows are mailed (完了);
1 a step failed or the run crashed — one line per target says why (失敗);
2 the spec or an option is not valid (設定の誤り);
3 busy — another run holds the company's lock, or the demo's ports are taken; nothing changed (実行中)."""

app = typer.Typer(
    help="renkei (連携): keep the MA customer base in step with kintone, Salesforce and Sansan.\n\n"
    + EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox")
LOCKED_EXIT = 3  # busy: another run holds the company's lock, or the demo's ports are taken; nothing changed
PIPED_WIDTH = 160  # rich assumes 80 columns when output is piped (CI logs, `| tee`): tables would clip names


def _console(*, stderr: bool = False) -> Console:
    """A console whose lines are never broken (the terminal wraps them, and a copied error is one
    line); tables fit the terminal, or PIPED_WIDTH when piped."""
    found = Console(stderr=stderr, soft_wrap=True)
    if found.is_terminal or "COLUMNS" in os.environ:
        return found
    return Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True)


console = _console()
err_console = _console(stderr=True)

SpecArg = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The integration spec (YAML).")
DebugOption = typer.Option(
    False, "--debug", help="Show the libraries' retry warnings, tracebacks and each step's full error."
)


@app.command()
def validate(
    spec: Path = SpecArg,
    online: bool = typer.Option(
        False,
        "--online",
        help="Also check the spec against the field catalogs of the MA (types, options, cut times) and of"
        " every kintone and Salesforce target (each mapped field exists and fits).",
    ),
) -> None:
    """Check an integration spec (連携要件連絡書) and list every problem at once.

    Exit 0 when valid (warnings are printed), 2 when not. Offline it checks the spec alone; with
    --online also against the MA (custom field types, options, unique flags, cut times) and against
    each target's own fields (kintone form, Salesforce describe): a mapped field it lacks is named
    with the closest field it has.

    Example: renkei validate examples/all.yaml --online
    """
    parsed, problems = validate_spec_file(spec, os.environ)
    if online and parsed is not None:
        from tasks.target_catalog import online_problems

        problems += online_problems(parsed)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    language = cli_language(os.environ.get("LANG"))
    error, warning = ("エラー", "警告") if language == "ja" else ("error", "warning")
    for problem in errors:
        text = escape(problem_text(problem, language))
        err_console.print(f"[red]{error}[/red] {text}", markup=True, highlight=False, soft_wrap=True)
    for problem in warnings:
        text = escape(problem_text(problem, language))
        err_console.print(f"[yellow]{warning}[/yellow] {text}", markup=True, highlight=False, soft_wrap=True)
    if online:
        checked_ja = "MA と連携先の項目定義とも照合済み"
        checked_en = "checked against the field catalogs of the MA and the targets"
    else:
        checked_ja = "オフライン検証（連携要件連絡書のみ）: --online で MA と連携先の項目定義とも照合します"
        checked_en = (
            "checked offline, from the spec alone: --online also checks it against the MA and the targets"
        )
    if errors or parsed is None:
        ja = f"エラー {len(errors)} 件、警告 {len(warnings)} 件 — 無効です。上の各行を直してください"
        ja += f"。{checked_ja}"
        en = f"{len(errors)} error(s), {len(warnings)} warning(s) — not valid; {checked_en}"
        err_console.print(f"{spec}: {in_language(ja, en, language)}", markup=False, soft_wrap=True)
        raise typer.Exit(2)
    targets = ", ".join(f"{t.name} ({t.kind})" for t in parsed.targets) or "-"
    ja = f"有効です — 会社 {parsed.company}、連携先 {targets}、警告 {len(warnings)} 件。{checked_ja}"
    en = f"valid — company {parsed.company}; {targets}; {len(warnings)} warning(s); {checked_en}"
    console.print(f"{spec}: {in_language(ja, en, language)}", markup=False, soft_wrap=True)


@app.command()
def fields() -> None:
    """List the MA's default customer fields with their types and fixed rules.

    Example: renkei fields
    """
    from schemas.policy import never_integrated, never_writable

    table = Table("field", "label", "type", "rule")
    for field in catalog():
        rule = (
            "never integrated"
            if never_integrated(field)
            else "never writable"
            if never_writable(field)
            else ""
        )
        table.add_row(field.name, field.label, field.type.value, rule)
    console.print(table)


@app.command()
def extract(
    spec: Path = SpecArg,
    cut: str | None = typer.Option(
        None, "--cut", help="One cut, e.g. 20261128T0200+0900 (default: every due cut)."
    ),
) -> None:
    """Stage the MA's due cuts (masters, action histories, changed customers) into Parquet; under
    ma.access: public, the admin screen's customer exports dropped in ma.exports.

    Example: renkei extract examples/demo.yaml --cut 20261128T0200+0900
    """
    from flows.extract import extract as extract_flow
    from flows.progress import cli_progress

    with _recorded(), cli_progress():
        staged = cast(list[StagedCut], extract_flow(str(spec), cut))  # a plain call returns the data
    _print_staged(staged)


@app.command()
def backfill(
    spec: Path = SpecArg,
    start: str = typer.Option(..., "--from", help="First day, e.g. 2026-11-25 (in the spec's time zone)."),
    end: str = typer.Option(..., "--to", help="Last day, included whole, e.g. 2026-11-28."),
    target: list[str] | None = typer.Option(
        None, "--target", help="Deliver every cut of the range to this target (repeatable)."
    ),
    debug: bool = DebugOption,
) -> None:
    """Stage every cut of a range of days, oldest first; with --target, deliver them to that target.

    A target receives the range's cuts even when its watermark is past them: what it holds already is
    counted unchanged, the rest is written. Without --target the cuts are only staged.

    Example: renkei backfill examples/demo.yaml --from 2026-11-25 --to 2026-11-28 --target kintone-customers
    """
    from datetime import date

    from flows.console import quiet_console
    from flows.deployed import run_deployed
    from flows.extract import backfill as backfill_flow
    from flows.progress import cli_progress

    load_or_exit(spec, target or ())
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        err_console.print(f"--from/--to: {exc}; write a day as YYYY-MM-DD, e.g. 2026-11-25", markup=False)
        raise typer.Exit(2) from exc
    with _recorded(), cli_progress(), quiet_console(debug):
        state = run_deployed(backfill_flow, str(spec), start=first, end=last, targets=target or None)
    _finish(state, spec, debug)


@app.command()
def export(
    spec: Path = SpecArg,
    cut: str = typer.Option(..., "--cut", help="The cut, e.g. 20261128T0200+0900."),
    encoding: str = typer.Option("utf-8-sig", "--encoding", help="utf-8-sig (Excel, default) or cp932."),
    out: Path = typer.Option(Path("./var/export"), "--out", help="Folder that receives the CSV files."),
) -> None:
    """Export one staged cut as the vendor's CSV hand-off (UTF-8 with BOM or CP932).

    Characters CP932 cannot hold are written as 〓 and every one is reported; the exit code is then 1.

    Example: renkei export examples/demo.yaml --cut 20261128T0200+0900 --encoding cp932
    """
    from connectors.csv_files import Encoding
    from flows.export import export_cut

    if encoding not in ("utf-8-sig", "cp932"):
        err_console.print(f"--encoding {encoding}: use utf-8-sig or cp932")
        raise typer.Exit(2)
    parsed = load_or_exit(spec)
    written, problems = export_cut(spec, parsed, cut, cast(Encoding, encoding), out)
    table = Table("file", "rows")
    for path, rows in written:
        table.add_row(str(path), str(rows))
    console.print(table)
    if problems:
        err_console.print(
            f"[red]{len(problems)} character(s) could not be written in CP932[/red] (written as 〓):"
        )
        for where, problem in problems[:50]:
            err_console.print(f"  {where}: {problem}", highlight=False, markup=False)
        raise typer.Exit(1)


@app.command()
def notify(
    spec: Path = SpecArg,
    test: bool = typer.Option(False, "--test", help="Send a test message to every notify.error_email."),
    resend: bool = typer.Option(False, "--resend", help="Send again every failure report not delivered yet."),
) -> None:
    """Send a test email through the spec's SMTP settings, or resend the failure reports never delivered.

    Exit 0 when the server took it (every report), 1 when not (the server's reply is printed).

    Example: renkei notify --test examples/demo.yaml
    """
    from connectors.smtp import SmtpError
    from tasks.notify import send_test_notice

    if test == resend:
        err_console.print("renkei notify: give --test (a test message) or --resend (undelivered reports)")
        raise typer.Exit(2)
    parsed = load_or_exit(spec)
    if resend:
        _resend(parsed)
        return
    smtp = parsed.notify.smtp
    try:
        send_test_notice(parsed)
    except SmtpError as exc:
        err_console.print(f"[red]not sent[/red]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(
        f"test message sent to {', '.join(parsed.notify.error_email)} through {smtp.host}:{smtp.port}",
        highlight=False,
    )


def _resend(parsed: Spec) -> None:
    from tasks.notify import resend_pending

    sent, still = resend_pending(parsed)
    console.print(f"未送信の通知を再送 / reports resent: {sent}", highlight=False)
    for item in still:
        err_console.print(
            f"[red]not sent[/red] run {escape(item.run_id)}: {escape(item.error)}", highlight=False
        )
    if still:
        raise typer.Exit(1)


def _recorded() -> AbstractContextManager[None]:
    """Runs kept where the local Prefect server shows them (var/prefect, or the server that is up)."""
    from deployments.server import recorded_locally

    return recorded_locally()


def load_or_exit(spec: Path, targets: Iterable[str] = ()) -> Spec:
    """The validated spec, or every problem printed and exit code 2 (a mistyped --target too)."""
    try:
        parsed = load_spec(spec)
    except SpecError as exc:
        err_console.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from exc
    unknown = unknown_targets(parsed, targets)
    for problem in unknown:
        text = problem_text(problem, cli_language(os.environ.get("LANG")))
        err_console.print(text, highlight=False, markup=False, soft_wrap=True)
    if unknown:
        raise typer.Exit(2)
    return parsed


def _print_staged(staged: list[StagedCut]) -> None:
    table = Table("cut", "file", "rows", "sha256")
    for cut in staged:
        for row in cut.rows():
            table.add_row(row["cut"], row["file"], str(row["rows"]), row["sha256"])
    console.print(table if staged else "nothing to stage: every visible cut is staged already")


@app.command()
def demo(
    serve: bool = typer.Option(
        False, "--serve", help="Then start the Prefect server with its UI and serve the deployments."
    ),
    ui_port: int | None = typer.Option(
        None,
        "--ui-port",
        help="The Prefect server's port on 127.0.0.1 (default 4200, or N+5 with --port-base).",
    ),
    port_base: int | None = typer.Option(
        None,
        "--port-base",
        help="Move every port to N, N+1, …: MA, kintone, Salesforce, Sansan, SMTP, then the Prefect server;"
        " the demo's folder becomes var/demo-N (a second demo beside a running one).",
    ),
) -> None:
    """Start every stand-in with sample data, validate the demo spec, sync once, plan once.

    Every step prints a line with the seconds since the start. Its runs are kept in var/prefect, so
    `renkei demo --serve` shows them in the Prefect UI.

    Example: renkei demo --serve    ·    renkei demo --port-base 9700
    """
    from deployments.demo import run_demo
    from deployments.server import ServerError
    from sandbox.demo_env import PortsBusy

    try:
        code = run_demo(console, serve, port_base, ui_port)
    except ValueError as exc:  # a --port-base out of range
        err_console.print(escape(str(exc)), highlight=False)
        raise typer.Exit(2) from exc
    except ServerError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    except PortsBusy as exc:
        err_console.print(f"[yellow]{escape(str(exc))}[/yellow]", highlight=False)
        raise typer.Exit(LOCKED_EXIT) from exc
    raise typer.Exit(code)


@app.command()
def run(
    spec: Path = SpecArg,
    target: list[str] | None = typer.Option(None, "--target", help="Only this target (repeatable)."),
    debug: bool = DebugOption,
) -> None:
    """Run one sync now: extract, load every target, write back, report, notify.

    Exit 0 when the run completed (rejected rows are reported and mailed), 1 when a step failed (one
    line per target: what, where in the spec, what renkei did, what next), 3 when another run holds
    the company's lock.

    Example: renkei run examples/demo.yaml
    """
    from flows.console import quiet_console
    from flows.deployed import run_deployed
    from flows.sync import sync

    load_or_exit(spec, target or ())
    with _recorded(), quiet_console(debug):
        state = run_deployed(sync, str(spec), targets=target or None)
    _finish(state, spec, debug)


def _finish(state: State[Any], spec: Path, debug: bool = False) -> None:
    """Print a run's report and exit 0 (completed), 1 (a step failed or it crashed), 3 (lock held)."""
    from flows.report import print_report
    from flows.states import report_of
    from schemas.rejected import RowContext, person_fields

    if state.is_cancelled():
        err_console.print(f"[yellow]{escape(state.message or 'not started')}[/yellow]", highlight=False)
        raise typer.Exit(LOCKED_EXIT)
    report = report_of(state)
    if report is None:
        err_console.print(f"[red]{state.name}[/red]: {escape(state.message or '')}", highlight=False)
        raise typer.Exit(1)
    people = RowContext(person_fields(load_spec(spec)), {})  # the rejected rows' people, by the spec's map
    print_report(
        report, console, cli_language(os.environ.get("LANG")), debug, context=people, spec_path=str(spec)
    )
    raise typer.Exit(1 if report.outcome in ("failed", "crashed") else 0)


@app.command()
def plan(
    spec: Path = SpecArg,
    target: list[str] | None = typer.Option(None, "--target", help="Only this target (repeatable)."),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Also write the changes to this Excel workbook."),
) -> None:
    """Dry run: per target, record and field, what a sync would change (written to Parquet); changes nothing.

    Example: renkei plan examples/demo.yaml --xlsx plan.xlsx
    """
    from flows.plan import plan as plan_flow
    from flows.plan import write_plan_workbook

    load_or_exit(spec, target or ())
    with _recorded():
        result = plan_flow(str(spec), target or None)
    for line in result.resyncs:
        console.print(f"[bold]first[/bold] {escape(line)}", highlight=False)
    for difference in result.differences:
        err_console.print(f"[red]MA field catalog[/red] {escape(difference)}", highlight=False)
    table = Table("where", "create", "update", "reject")
    for where, actions in result.counts.items():
        table.add_row(where, *(str(actions.get(a, 0)) for a in ("create", "update", "reject")))
    console.print(table)
    console.print(f"changes: {result.changes}")
    console.print(f"summary: {result.summary}")
    if xlsx is not None:
        rows = write_plan_workbook(result, xlsx, cli_language(os.environ.get("LANG")))
        console.print(f"workbook: {xlsx} ({rows} rows)", highlight=False)


@app.command()
def resync(
    spec: Path = SpecArg,
    target: str = typer.Option(..., "--target", help="The target whose linked records receive the fields."),
    field: list[str] | None = typer.Option(
        None,
        "--field",
        help="An MA field to send (repeatable); default: every field the mapping added or changed.",
    ),
) -> None:
    """Send mapped fields to every record already linked in a target, e.g. after adding a field.

    A sync does this by itself when the mapping changed; requests count against the daily budget and
    rows past it are deferred to the next run. Exit 1 when rows were rejected or deferred.

    Example: renkei resync examples/kintone.yaml --target kintone-customers --field address
    """
    from flows.resync import resync as resync_flow
    from schemas.mapping import field_map

    parsed = load_or_exit(spec)
    chosen = next((t for t in parsed.targets if t.name == target), None)
    if chosen is None or not chosen.is_destination:
        err_console.print(f"{spec}: no target named {target!r} that renkei writes to", markup=False)
        raise typer.Exit(2)
    outbound = {link.ma for link in field_map(parsed, chosen).outbound}
    unknown = sorted(set(field or ()) - outbound)
    if unknown:
        err_console.print(
            f"{spec}: {', '.join(unknown)} is not sent to {target} (map it as readable first)", markup=False
        )
        raise typer.Exit(2)
    report = resync_flow(str(spec), target, field or None)
    if report is None:
        console.print(f"{target}: nothing to re-sync — the mapping is as last synced", highlight=False)
        return
    counts = report.counts
    console.print(
        f"{target}: {counts.received} linked records — loaded {counts.loaded}, rejected {counts.rejected},"
        f" deferred {counts.deferred}",
        highlight=False,
    )
    raise typer.Exit(1 if counts.rejected or counts.deferred else 0)


@app.command()
def replay(
    spec: Path = SpecArg,
    target: str | None = typer.Option(None, "--target", help="Only this target."),
    rule: str | None = typer.Option(None, "--rule", help="Only rows rejected with this code (e.g. CB_VA01)."),
    dismiss: bool = typer.Option(False, "--dismiss", help="Close the rows instead of retrying them."),
    note: str | None = typer.Option(None, "--note", help="Why (kept with dismissed rows)."),
    list_rows: bool = typer.Option(
        False, "--list", help="Show the open rows (person, record, field, value, reason, fix); send nothing."
    ),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="With --list: write every open row to this .xlsx."),
    csv: Path | None = typer.Option(None, "--csv", help="With --list: write every open row to this CSV."),
) -> None:
    """Retry quarantined rows after fixing the source or the spec, or dismiss them (audited).

    Example: renkei replay examples/demo.yaml --target kintone-customers --rule CB_VA01

    What is open, as a person fixes it: renkei replay examples/demo.yaml --list --xlsx rejected.xlsx
    """
    from flows.replay import replay as replay_flow

    parsed = load_or_exit(spec, [target] if target else ())
    if list_rows:
        from flows.rejected_list import list_rejected

        language = cli_language(os.environ.get("LANG"))
        list_rejected(parsed, console, language, target=target, rule=rule, xlsx=xlsx, csv=csv)
        return
    with _recorded():
        result = cast("ReplayResult", replay_flow(str(spec), target, rule, dismiss, note))
    console.print(
        f"replayed {result.replayed}, still rejected {result.still_rejected}, dismissed {result.dismissed}"
    )


@app.command()
def serve(
    specs: list[Path] = typer.Argument(
        ..., exists=True, readable=True, help="Spec files (YAML), or folders of them: one company each."
    ),
    ui_port: int = typer.Option(4200, "--ui-port", help="The Prefect server's port on 127.0.0.1."),
) -> None:
    """Serve the deployments of every company: sync on its cuts; backfill, plan, replay and audit on demand.

    Each company's deployments carry its name (acme-sync, acme-backfill, ...); one sync runs at a time
    per company, and the companies on one kintone domain share its 100 concurrent calls (a Prefect
    global concurrency limit). Starts a local Prefect server with its UI (database in var/prefect), or
    joins the one PREFECT_API_URL names, and prints the UI's URL first.

    Example: renkei serve examples/demo.yaml   (or: renkei serve /etc/renkei/specs/)
    """
    from deployments.serve import SpecsError, serve_specs, spec_files
    from deployments.server import ServerError

    try:
        for file in spec_files(specs):
            load_or_exit(file)
        serve_specs(specs, ui_port, lambda line: console.print(line, highlight=False, soft_wrap=True))
    except SpecsError as exc:
        err_console.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from exc
    except ServerError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from exc


@app.command()
def deploy(
    specs: list[Path] = typer.Argument(
        ..., exists=True, readable=True, help="Spec files (YAML), or folders of them: one company each."
    ),
) -> None:
    """Deploy every company's five deployments on the work pool `renkei` (deployments/prefect.yaml).

    Runs on the Prefect server PREFECT_API_URL names; workers (`prefect worker start --pool renkei`)
    run the flows. Each company's deployments carry its name (acme-sync, ...); the companies on one
    kintone domain share its 100 concurrent calls (a Prefect global concurrency limit).

    Example: renkei deploy /etc/renkei/specs/
    """
    from deployments.pool import DeployError, deploy_specs
    from deployments.serve import SpecsError, spec_files

    try:
        for file in spec_files(specs):
            load_or_exit(file)
        deploy_specs(specs, lambda line: console.print(line, highlight=False, soft_wrap=True))
    except SpecsError as exc:
        err_console.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2) from exc
    except DeployError as exc:
        err_console.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(1) from exc


@app.command()
def audit(
    spec: Path = SpecArg,
    target: str | None = typer.Option(None, "--target", help="Only this target."),
) -> None:
    """Scan every target for emails held by several records, badly formed emails and schema drift.

    Run it before a sync is switched on. Exit 0 when every audited target is clean, 1 when not.

    Example: renkei audit examples/kintone.yaml
    """
    from connectors.http import HttpError
    from flows.audit import render_report
    from tasks.audit import audit_target
    from tasks.ma_catalog import online_spec

    parsed = load_or_exit(spec, [target] if target else ())
    try:
        parsed, differences, _ = online_spec(parsed)
    except HttpError as exc:  # the targets can still be audited against the spec alone
        err_console.print(f"[yellow]the MA's field catalog could not be read[/yellow]: {escape(str(exc))}")
        differences = []
    chosen = [t for t in parsed.targets if target is None or t.name == target]
    for difference in differences:
        err_console.print(f"[red]MA field catalog[/red] {escape(str(difference))}", highlight=False)
    problems = any(d.severity == "error" for d in differences)
    for each in chosen:
        try:
            report = audit_target(parsed, each)
        except HttpError as exc:
            err_console.print(
                f"[red]{escape(each.name)}: cannot audit[/red]: {escape(str(exc))}", highlight=False
            )
            problems = True
            continue
        console.print(render_report(report, cli_language(os.environ.get("LANG"))))
        problems = problems or not report.clean
    if problems:
        raise typer.Exit(1)


def main() -> None:
    """The console script: a run refused by another writing run is a clear message, not a traceback."""
    from flows.lock import RunLocked

    try:
        clock.now()  # a mistyped RENKEI_NOW stops here in one line, not in every stand-in request
    except clock.ClockSettingError as exc:
        err_console.print(f"[red]{exc}[/red]", highlight=False)
        raise SystemExit(2) from exc
    try:
        app()
    except RunLocked as exc:
        err_console.print(f"[yellow]{escape(str(exc))}[/yellow]", highlight=False)
        raise SystemExit(LOCKED_EXIT) from exc
    except RuntimeError as exc:  # Prefect's temporary server did not start, even after 180 s
        if "ephemeral Prefect API server" not in str(exc):
            raise
        err_console.print(
            "Prefect サーバが時間内に起動しませんでした / the Prefect server did not start in time (a busy "
            "machine?): run the command again, or start one with `.venv/bin/renkei serve SPEC` first",
            highlight=False,
            markup=False,
        )
        raise SystemExit(1) from exc


if __name__ == "__main__":  # `python -m deployments.cli` (how `renkei sandbox all` starts each stand-in)
    main()
