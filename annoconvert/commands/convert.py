"""The per-reader conversion command (`annoconvert labelstudio INPUT... -o OUT`), built from the
registry so plugin readers get the same command line."""

from __future__ import annotations

from typing import Any, get_args

import click

from annoconvert.options import (
    AnnotatorPolicy,
    BoxFormat,
    ImageFormat,
    ImageMode,
    Options,
    Preset,
)

Choice = click.Choice


def _opt(*decls: str, **attrs: Any) -> click.Option:
    return click.Option(list(decls), **attrs)


def common_options() -> list[click.Option]:
    """The options every conversion command takes (DESIGN.md §6), defaults from Options."""
    return [
        _opt("-o", "--output", help="Output JSONL file; '-' or absent writes to stdout."),
        _opt("--recipe", help="Recipe name or 'auto' (default); see 'annoconvert formats'."),
        _opt("--config", type=click.Path(dir_okay=False), help="TOML file holding any option."),
        _opt("--system", help="System message template (default: built from the label set)."),
        _opt("--prompt", help="User message template, e.g. 'Classify: {text}'."),
        _opt(
            "--answer-template", help="Assistant answer template, e.g. 'Classification: {label}'."
        ),
        _opt("--images-root", multiple=True, help="Folder or zip holding the images (repeatable)."),
        _opt(
            "--image-mode",
            type=Choice(get_args(ImageMode)),
            help="embed (default), reference, placeholder.",
        ),
        _opt(
            "--image-uri-prefix", help="URI prefix for images in reference mode (https://, gs://)."
        ),
        _opt("--max-image-side", type=int, help="Resize so the longer side is at most N pixels."),
        _opt(
            "--image-format",
            type=Choice(get_args(ImageFormat)),
            help="keep (default), jpeg, png, webp.",
        ),
        _opt(
            "--jpeg-quality",
            type=click.IntRange(1, 100),
            help="JPEG/WEBP quality when re-encoding (90).",
        ),
        _opt("--image-detail", type=Choice(["low", "high", "auto"]), help="OpenAI image 'detail'."),
        _opt(
            "--fetch-remote",
            is_flag=True,
            default=None,
            help="Download http(s) images to embed them.",
        ),
        _opt(
            "--copy-images",
            type=click.Path(file_okay=False),
            help="Copy images here (vertex fileData).",
        ),
        _opt(
            "--box-format",
            type=Choice(get_args(BoxFormat)),
            help="box_2d (default), qwen2.5-vl, qwen3-vl, xyxy-px, xywh-px.",
        ),
        _opt(
            "--box-order",
            type=Choice(["reading", "source"]),
            help="Box order in answers (reading).",
        ),
        _opt(
            "--annotators",
            type=Choice(get_args(AnnotatorPolicy)),
            help="Which annotation counts (latest).",
        ),
        _opt("--user-speaker", help="Dialogue speaker who is the user (default: the first)."),
        _opt("--train-on", type=Choice(["last", "all"]), help="Dialogue turns trained (last)."),
        _opt("--ner-format", type=Choice(["grouped", "list"]), help="NER answer shape (grouped)."),
        _opt(
            "--multilabel-format", type=Choice(["joined", "json"]), help="Multilabel answer shape."
        ),
        _opt("--dialect", help="Output dialect: openai (default), vertex, trl, sharegpt."),
        _opt(
            "--preset",
            type=Choice(get_args(Preset)),
            help="Limits used while writing and checking.",
        ),
        _opt("--split", help="train=0.8,val=0.1,test=0.1 or by-subset (needs -o FILE)."),
        _opt("--seed", type=int, help="Seed for --split (0)."),
        _opt(
            "--conflicts",
            type=Choice(["report", "drop", "keep"]),
            help="Same input, different answers.",
        ),
        _opt("--dedupe", is_flag=True, default=None, help="Drop exact duplicate examples."),
        _opt(
            "--no-validate",
            "no_validate",
            is_flag=True,
            default=False,
            help="Skip checking the written lines.",
        ),
        _opt(
            "--rejects", type=click.Path(dir_okay=False), help="Write rejected tasks here (JSONL)."
        ),
        _opt(
            "--on-error",
            type=Choice(["skip", "fail"]),
            help="skip (default) or fail at the first bad task.",
        ),
        _opt("--max-errors", type=click.IntRange(1), help="Stop after N rejected tasks."),
        _opt(
            "--workers",
            type=click.IntRange(1),
            help="Processes for image work (the CPUs usable: affinity, cgroup quota).",
        ),
        _opt(
            "--engine",
            type=Choice(["local", "dask"]),
            default="local",
            help="Run locally (default) or on Dask.",
        ),
        _opt("--scheduler", help="Dask scheduler address (default: a local cluster)."),
        _opt(
            "--shard-size", type=click.IntRange(1), help="Examples per output shard (dask engine)."
        ),
        _opt("-q", "--quiet", is_flag=True, default=None, help="No progress bar or summary."),
    ]


def reader_options(name: str) -> list[click.Option]:
    """The reader's own options (e.g. --label-config) as click options."""
    from annoconvert import registry

    out = []
    for ro in registry.reader(name).options:
        attrs: dict[str, Any] = {"help": ro.help}
        if ro.choices:
            attrs["type"] = Choice(list(ro.choices))
        elif ro.is_path:
            attrs["type"] = click.Path()
        if ro.is_flag:
            attrs["is_flag"] = True
            attrs["default"] = None
        if ro.multiple:
            attrs["multiple"] = True
        out.append(_opt(f"--{ro.name}", **attrs))
    return out


def reader_command(name: str, help_text: str | None) -> click.Command:
    """The conversion command of one reader."""
    from annoconvert.cli import guarded

    def callback(inputs: tuple[str, ...], **params: Any) -> None:
        guarded(lambda: run_command(name, inputs, params))

    params: list[click.Parameter] = [
        click.Argument(["inputs"], nargs=-1, required=True, type=click.Path()),
        *common_options(),
        *reader_options(name),
    ]
    return click.Command(
        name,
        callback=callback,
        params=params,
        help=(help_text or f"Convert {name} exports.")
        + "\n\nINPUT is an export file, a folder holding one, or a zip as the tool downloads it.",
        epilog=f"Example: annoconvert {name} export -o train.jsonl",
    )


def run_command(name: str, inputs: tuple[str, ...], params: dict[str, Any]) -> int:
    """Build options, run the conversion, write rejects and print the summary."""
    from annoconvert.api import write_rejects
    from annoconvert.commands.summary import Progress, print_summary
    from annoconvert.options import build_options

    output = params.pop("output")
    config = params.pop("config")
    engine = params.pop("engine")
    scheduler = params.pop("scheduler")
    if params.pop("no_validate"):
        params["validate_output"] = False
    given: dict[str, Any] = {}
    reader_options: dict[str, Any] = {}
    for key, value in params.items():
        field = key.replace("-", "_")
        if field in Options.model_fields:
            given[field] = value
        elif value is not None and value != ():
            reader_options[field] = value  # a plugin reader's own option
    if reader_options:
        given["reader_options"] = reader_options
    given["images_root"] = tuple(given.get("images_root") or ()) or None
    options = build_options(config, **given)
    quiet = options.quiet
    if engine == "dask":
        from annoconvert.dask import run_dask

        stats = run_dask(name, list(inputs), options, output, scheduler=scheduler)
    else:
        from annoconvert.pipeline import run

        with Progress(enabled=not quiet) as progress:
            stats = run(name, list(inputs), options, output, progress=progress.update)
    if options.rejects:
        write_rejects(options.rejects, stats.rejects)
    if not quiet:
        print_summary(stats, output, options)
    return 0
