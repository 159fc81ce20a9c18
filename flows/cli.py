"""The `renkei` command line."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sandbox.cli import sandbox_app
from schemas.catalog import catalog
from schemas.validate import validate_spec_file

for _name, _value in (("DO_NOT_TRACK", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false")):
    os.environ.setdefault(_name, _value)

app = typer.Typer(
    help="renkei (連携): keep the MA customer base in step with kintone, Salesforce and Sansan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox")
console = Console()
err_console = Console(stderr=True)

SpecArg = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The integration spec (YAML).")


@app.command()
def validate(spec: Path = SpecArg) -> None:
    """Check an integration spec (連携要件連絡書) and list every problem at once.

    Exit 0 when valid (warnings are printed), 2 when not.

    Example: renkei validate examples/all.yaml
    """
    parsed, problems = validate_spec_file(spec, os.environ)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for problem in warnings:
        err_console.print(f"[yellow]warning[/yellow] {problem}", markup=True, highlight=False, soft_wrap=True)
    for problem in errors:
        err_console.print(f"[red]error[/red] {problem}", markup=True, highlight=False, soft_wrap=True)
    if errors or parsed is None:
        err_console.print(f"{spec}: {len(errors)} error(s), {len(warnings)} warning(s) — not valid")
        raise typer.Exit(2)
    targets = ", ".join(f"{t.name} ({t.kind})" for t in parsed.targets) or "no targets"
    console.print(f"{spec}: valid — company {parsed.company}; {targets}; {len(warnings)} warning(s)")


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
def demo() -> None:
    """Start every stand-in with sample data and run one full sync (not built yet).

    Example: renkei demo
    """
    err_console.print(
        "renkei demo is not built yet: it lands with the orchestration work. "
        "Meanwhile try `renkei validate examples/all.yaml`."
    )
    raise typer.Exit(1)
