"""`annoconvert agreement SOURCE INPUT...`: inter-annotator agreement of an export."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from annoconvert.errors import AnnoconvertError
from annoconvert.model import Reject, Task
from annoconvert.options import Options, build_options
from annoconvert.reject_log import RejectLog

F = TypeVar("F", bound=Callable[..., Any])


def reader_options(func: F) -> F:
    """The reader options shared by `agreement` and `stats` (passed through build_options)."""
    decorators = [
        click.option("--config", type=click.Path(dir_okay=False), help="TOML file of options."),
        click.option("--label-config", help="Label Studio labeling config XML (file or text)."),
        click.option("--project-type", help="Doccano project type."),
        click.option("--offsets", type=click.Choice(["auto", "codepoint", "utf16"]), default=None),
        click.option("--targets", type=click.Choice(["all", "first"]), default=None),
        click.option("--images-root", multiple=True, help="Where images are (repeatable)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def options_from(params: dict[str, Any]) -> Options:
    """Options from the shared reader options (None means not given)."""
    config = params.pop("config", None)
    roots = params.pop("images_root", ())
    return build_options(config, images_root=tuple(roots) or None, **params)


class TaskStream:
    """Iterate a reader's tasks, counting the rejects it yields (for the summary; past the
    first 10,000 on disk, so that an export of millions of bad tasks is read in flat memory)."""

    def __init__(self, source: str, inputs: Sequence[str], options: Options) -> None:
        from annoconvert import registry

        self._reader = registry.reader(source)
        self._inputs = list(inputs)
        self._options = options
        self.rejects = RejectLog()

    def __iter__(self) -> Iterator[Task]:
        for item in self._reader.read(self._inputs, self._options):
            if isinstance(item, Reject):
                self.rejects.append(item)
            else:
                yield item


def one_line(err: AnnoconvertError) -> str:
    """The error as one line (some parsers put a multi-line context after the message)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def reject_summary(rejects: RejectLog) -> str:
    """One stderr line: how many tasks the reader rejected, by code."""
    by_code = ", ".join(f"{code}: {n}" for code, n in sorted(rejects.codes().items()))
    return f"{len(rejects)} task(s) rejected by the reader ({by_code})"


@click.command("agreement")
@click.argument("source")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@reader_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write an HTML report.")
@click.option(
    "--min-agreement",
    type=click.FloatRange(-1.0, 1.0),
    help="Exit 1 when any field's score (alpha, F1 or text similarity) is below this.",
)
@click.option(
    "--top",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="How many disputed tasks to list.",
)
def command(
    source: str,
    inputs: tuple[str, ...],
    as_json: bool,
    html_path: str | None,
    min_agreement: float | None,
    top: int,
    **reader_params: Any,
) -> None:
    """Measure how much annotators agree, per field and per label, and list disputed tasks."""
    from annoconvert.quality.agreement import agreement
    from annoconvert.quality.agreement_report import render_html, render_table

    try:
        options = options_from(reader_params)
        stream = TaskStream(source, inputs, options)
        report = agreement(stream, top=top)
    except AnnoconvertError as err:
        raise click.ClickException(one_line(err)) from err
    if stream.rejects:
        click.echo(reject_summary(stream.rejects), err=True)
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
    else:
        click.echo(render_table(report), nl=False)
    if html_path:
        Path(html_path).write_text(render_html(report), encoding="utf-8")
    if report.tasks == 0:
        click.echo("no task has two or more non-cancelled annotations", err=True)
    if min_agreement is not None:
        low = report.below(min_agreement)
        if low:
            names = ", ".join(f"{f.field} ({f.score_metric} {f.score:.3f})" for f in low)
            click.echo(f"agreement below {min_agreement}: {names}", err=True)
            sys.exit(1)
