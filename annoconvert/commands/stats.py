"""`annoconvert stats SOURCE INPUT...`: what an export holds (labels, annotators, images, text)."""

from __future__ import annotations

import json
from typing import Any

import click

from annoconvert.commands.agreement import (
    TaskStream,
    one_line,
    options_from,
    reader_options,
    reject_summary,
)
from annoconvert.errors import AnnoconvertError


@click.command("stats")
@click.argument("source")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@reader_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(source: str, inputs: tuple[str, ...], as_json: bool, **reader_params: Any) -> None:
    """Count labels, annotators, region kinds, image sizes and text lengths of an export."""
    from annoconvert.quality.stats import compute_stats, render_stats

    try:
        stream = TaskStream(source, inputs, options_from(reader_params))
        report = compute_stats(stream)
    except AnnoconvertError as err:
        raise click.ClickException(one_line(err)) from err
    if stream.rejects:
        click.echo(reject_summary(stream.rejects), err=True)
    if as_json:
        payload = report.model_dump(mode="json")
        payload["rejects"] = len(stream.rejects)
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(render_stats(report), nl=False)
