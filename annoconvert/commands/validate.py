"""`annoconvert validate FILE --preset P`: check a fine-tuning JSONL file before uploading it."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from annoconvert.errors import AnnoconvertError

if TYPE_CHECKING:
    from annoconvert.quality.validate import ValidationReport


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--preset",
    type=click.Choice(["openai", "together", "fireworks", "azure", "vertex", "trl", "sharegpt"]),
    default="openai",
    show_default=True,
    help="Whose rules to check (the dialect follows: vertex, trl, sharegpt).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--max-shown",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="How many findings to print in the text report.",
)
def command(file: str, preset: str, as_json: bool, max_shown: int) -> None:
    """Check every line of FILE; exit 1 when any error is found."""
    from annoconvert.quality.validate import validate_file

    try:
        report = validate_file(file, preset)
    except AnnoconvertError as err:
        raise click.ClickException(
            str(err).splitlines()[0] if str(err) else type(err).__name__
        ) from err
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
    else:
        click.echo(render_text(report, max_shown), nl=False)
    if not report.ok:
        sys.exit(1)


def render_text(report: ValidationReport, max_shown: int) -> str:
    """A short human report: verdict, counts by code, the first findings, token distribution."""
    verdict = "OK" if report.ok else f"{sum(report.error_counts.values())} error(s)"
    lines = [
        f"{verdict}: {report.examples} example(s) on {report.lines} line(s), preset "
        f"{report.preset} ({report.dialect} format), {report.images} image(s)"
    ]
    for title, counts, findings in (
        ("errors", report.error_counts, report.errors),
        ("warnings", report.warning_counts, report.warnings),
    ):
        if not counts:
            continue
        lines.append(f"{title}: " + ", ".join(f"{code} {n}" for code, n in counts.items()))
        for f in findings[:max_shown]:
            where = f"line {f.line}" if f.line is not None else "file"
            lines.append(f"  {where}: {f.code}: {f.message}")
        if len(findings) > max_shown:
            lines.append(f"  ... {sum(counts.values()) - max_shown} more")
    tokens = report.tokens
    if tokens.distribution:
        d = tokens.distribution
        over = report.warning_counts.get("example_over_token_limit", 0)  # over_limit is capped
        lines.append(
            f"tokens per example ({tokens.method}, {tokens.encoding}): min {d['min']:.0f}, "
            f"median {d['median']:.0f}, mean {d['mean']:.0f}, p95 {d['p95']:.0f}, "
            f"max {d['max']:.0f}, total {d['total']:.0f}"
            + (f"; limit {tokens.limit}, {over} over" if tokens.limit else "")
        )
    return "\n".join(lines) + "\n"
