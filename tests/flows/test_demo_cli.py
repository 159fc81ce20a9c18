"""`renkei demo` as a person runs it: its ports, its folder, and the rejections it prints."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from deployments.demo import demo_ports
from flows.progress import timed_lines
from flows.report import markdown, print_report
from sandbox.demo_env import DemoPorts
from schemas.messages import RUN_OUTCOMES, lookup
from schemas.outcomes import Counts, RowOutcome
from schemas.rejected import RowContext, person_fields
from schemas.report import RunReport, StreamLine
from schemas.validate import load_spec
from tasks.load import StreamReport, announce

ROOT = Path(__file__).parents[2]
RENKEI = Path(sys.executable).with_name("renkei")
CARDS = [
    ("小林", "大輔", "さくら商事株式会社"),
    ("藤原", "由美子", "㈱日本物産"),
    ("山本", "隆", "㈱富士データ"),
]


def test_port_base_moves_every_port_in_order_and_the_prefect_server_last() -> None:
    assert demo_ports(None) == (DemoPorts(8701, 8702, 8703, 8704, 8725), 4200)
    assert demo_ports(9700) == (DemoPorts(9700, 9701, 9702, 9703, 9704), 9705)


def test_a_second_demo_on_busy_ports_stops_before_it_touches_the_first_ones_folder(tmp_path: Path) -> None:
    """Run twice at once: the second finds a port taken and leaves the first's folder as it was."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        base = listener.getsockname()[1] - 1  # the "kintone" port of this base is the one taken
        first = tmp_path / "var" / f"demo-{base}"
        (first / "sandbox").mkdir(parents=True)
        (first / "state.db").write_bytes(b"the running demo's state")
        env = {**os.environ, "LANG": "ja_JP.UTF-8", "PREFECT_HOME": str(tmp_path / "prefect")}
        second = subprocess.run(
            [str(RENKEI), "demo", "--port-base", str(base)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert second.returncode == 3, second.stderr
    assert f"{base + 1}" in second.stderr and "busy" in second.stderr and "使用中" in second.stderr
    assert "Traceback" not in second.stderr
    # its first line follows the locale as every command does: Japanese under ja_JP
    assert second.stdout.startswith("examples/demo.yaml: 有効です — 会社 demo、連携先 kintone-customers")
    assert "valid" not in second.stdout
    assert (first / "state.db").read_bytes() == b"the running demo's state"
    assert sorted(p.name for p in first.iterdir()) == ["sandbox", "state.db"]


def free_base() -> int:
    """A base whose six demo ports (stand-ins, SMTP, the Prefect server) are all free just now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + 5 < 65536 and all(_free(base + i) for i in range(6)):
            return base
    raise RuntimeError("no six free ports in a row")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_the_whole_demo_runs_in_japanese_and_its_terminal_shows_renkeis_lines_only(tmp_path: Path) -> None:
    """`make demo` as a person runs it: every line Japanese under ja_JP, both halves synced, the table
    and the rejected rows; never a Prefect log line or a traceback (those stay in the run's log)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {
        **os.environ,
        "LANG": "ja_JP.UTF-8",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_LOGGING_LEVEL": "WARNING",  # as the Makefile sets it
    }
    done = subprocess.run(
        [str(RENKEI), "demo", "--port-base", str(free_base())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "sync: 一部の行がエラー" in out and "sync (ma.access: public): 一部の行がエラー" in out
    assert re.search(r"kintone-customers 行動履歴（メール）: [\d,]+ 件 — 反映 [1-9]", out), out
    assert "エラー sansan-cards 書き戻し（連携先→MA） " in out and "完了: " in out
    assert not re.search(r"WARNING|ERROR|Flow run '|Traceback", out), out


def sansan_report(rejected: int) -> RunReport:
    """A demo-like run: Sansan cards without an email, each refused with the card's values."""
    errors = tuple(
        RowOutcome.rejected(
            f"{i:032X}", "email_missing", f"card {i:032X}: no email address", "email"
        ).showing({"lastName": last, "firstName": first, "companyName": company})
        for i, (last, first, company) in enumerate(CARDS * 3)
    )
    counts = Counts(received=198, loaded=198 - rejected, rejected=rejected)
    return RunReport("demo", "run-1", "sync", lines=[StreamLine("sansan-cards", "inbound", counts, errors)])


def printed(report: RunReport, language: str) -> str:
    out = io.StringIO()
    people = RowContext(person_fields(load_spec(ROOT / "examples" / "demo.yaml")), {})
    spec = "examples/demo.yaml"
    print_report(report, Console(file=out, width=200), language, context=people, shown=5, spec_path=spec)  # type: ignore[arg-type]
    return out.getvalue()


def test_the_first_rejections_name_the_person_and_the_reason_never_a_hex_key_then_how_many_more() -> None:
    ja = printed(sansan_report(24), "ja")
    lines = [line for line in ja.splitlines() if line.startswith("エラー")]
    assert len(lines) == 5
    who, why = "小林 大輔（さくら商事株式会社） [email]", "メールアドレスがありません"
    assert lines[0] == f"エラー sansan-cards 書き戻し（連携先→MA） {who}: {why}"  # the stream as words
    assert "…他 19 件 (一覧: renkei replay examples/demo.yaml --list)" in ja
    assert not any(f"{i:032X}" in ja for i in range(9))  # no card key anywhere
    assert "no email address" not in ja and "rejected" not in ja and "一部の行がエラー" in ja
    en = printed(sansan_report(24), "en")
    assert (
        "rejected sansan-cards inbound 藤原 由美子（㈱日本物産） [email]: the email address is missing" in en
    )
    assert "…and 19 more (every row: renkei replay examples/demo.yaml --list)" in en
    assert "more" not in printed(sansan_report(5), "en")  # all shown: nothing more to say


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("ja_JP.UTF-8", "kintone-customers 行動履歴（メール）: 1,201 件 — 反映 1,200、エラー 1"),
        ("en_US.UTF-8", "kintone-customers actions:email: 1,201 rows — loaded 1,200, rejected 1"),
        (
            "C.UTF-8",
            "kintone-customers actions:email: 1,201 件 — 反映 1,200、エラー 1 / loaded 1,200, rejected 1",
        ),
    ],
    ids=["ja", "en", "both"],
)
def test_each_stream_loaded_is_a_line_with_the_seconds_since_the_start_only_while_asked(
    monkeypatch: pytest.MonkeyPatch, lang: str, said: str
) -> None:
    """In the CLI's language (LANG: ja, en, or both side by side), as every other command."""
    monkeypatch.setenv("LANG", lang)
    report = StreamReport("kintone-customers", "actions:email")
    report.add(
        [RowOutcome.created(f"e{i}") for i in range(1_200)] + [RowOutcome.rejected("e", "required", "x")]
    )
    out = io.StringIO()
    console = Console(file=out, width=200)
    with timed_lines(console) as say:
        say("stand-ins up")
        announce(report)
    announce(report)  # after the block: nobody asked, nothing printed
    lines = out.getvalue().splitlines()
    assert [re.sub(r"^\[ *\d+\.\ds\] ", "", line) for line in lines] == ["stand-ins up", said]
    assert all(re.match(r"^\[ *\d+\.\ds\] ", line) for line in lines)  # never an emoji for :email


def test_the_run_report_artifact_names_the_person_with_the_catalogues_reason_and_fix() -> None:
    people = RowContext(person_fields(load_spec(ROOT / "examples" / "demo.yaml")), {})
    text = markdown(sansan_report(24), people)
    row = next(line for line in text.splitlines() if "小林 大輔（さくら商事株式会社）" in line)
    entry = lookup("email_missing")
    assert f"{entry.ja} / {entry.en} (email_missing)" in row and f"{entry.fix_ja} / {entry.fix_en}" in row
    assert not any(f"{i:032X}" in text for i in range(9))  # the person, never the card's hex key
    assert "no email address" not in text  # our English detail: the catalogue's words are enough
    outcome = RUN_OUTCOMES["completed_with_rejections"]
    assert text.startswith(f"# demo — sync: {outcome.ja} / {outcome.en}\n")  # words, not the state's code
    assert f"- 対応 what to do: {outcome.fix_ja} / {outcome.fix_en}" in text
    assert "| sansan-cards | 書き戻し（連携先→MA） / inbound | 小林 大輔（さくら商事株式会社） |" in text
