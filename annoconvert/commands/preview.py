"""`annoconvert preview FILE.jsonl -o PAGE.html`: one self-contained page to look at the data."""

from __future__ import annotations

from pathlib import Path

import click

from annoconvert.boxes import BOX_KEYS


def write_page(path: Path, text: str) -> None:
    """Write the page atomically (see annoconvert.atomic)."""
    from annoconvert.atomic import write_atomic

    write_atomic(path, text.encode("utf-8"))


@click.command("preview")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML page to write (default: FILE with .html).",
)
@click.option(
    "--box-format",
    type=click.Choice(list(BOX_KEYS)),
    default="box_2d",
    show_default=True,
    help="How the assistant answers write boxes (drawn back onto the image).",
)
@click.option(
    "--per-page",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Examples per page.",
)
@click.option("--title", help="The page title (default: the file name).")
def command(
    file: Path, output: Path | None, box_format: str, per_page: int, title: str | None
) -> None:
    """Write one HTML page showing every example of FILE (any dialect), boxes drawn.

    The page loads nothing from the network: images are the file's data URLs, or local image
    files (paths relative to FILE's folder or the working directory) read in.
    """
    from annoconvert.preview import build_page

    target = output if output is not None else file.with_suffix(".html")
    with file.open("rb") as lines:
        page = build_page(
            lines,
            title=title or file.name,
            box_format=box_format,
            base_dirs=[file.resolve().parent, Path.cwd()],
            per_page=per_page,
        )
    write_page(target, page)
    click.echo(f"wrote {target}", err=True)
