"""The command line (DESIGN.md §6): one command per reader, generated from the registry, plus
`validate`, `agreement`, `stats`, `preview` and `formats`.

Modules are imported only when their command runs, so `annoconvert --help` stays fast.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import click

from annoconvert import __version__
from annoconvert.errors import AnnoconvertError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("annoconvert.commands.validate:command", "Check a JSONL file against a preset."),
    "agreement": (
        "annoconvert.commands.agreement:command",
        "Measure agreement between annotators.",
    ),
    "stats": ("annoconvert.commands.stats:command", "Count labels, annotators, regions, sizes."),
    "preview": ("annoconvert.commands.preview:command", "Write an HTML page of a JSONL file."),
    "formats": (
        "annoconvert.commands.formats:command",
        "List readers, recipes, dialects, presets.",
    ),
}
READER_HELP: dict[str, str] = {
    "labelstudio": "Convert Label Studio exports (JSON, JSON-MIN, JSONL).",
    "doccano": "Convert Doccano exports (JSONL, JSON, CSV, fastText, zip).",
    "cvat": "Convert CVAT for images/video 1.1 XML (file, folder or zip).",
    "coco": "Convert COCO JSON (file, folder or zip; CVAT, Roboflow, MMDetection).",
}
EXAMPLES = """
\b
Examples:
  annoconvert labelstudio export.json -o train.jsonl
  annoconvert labelstudio export.json --recipe classification \\
      --system "You are an expert email classifier." --answer-template "Classification: {label}"
  annoconvert cvat task.zip --recipe detection --box-format qwen3-vl -o boxes.jsonl
  annoconvert doccano project.zip --annotators majority --rejects rejects.jsonl -o train.jsonl
  annoconvert validate train.jsonl --preset openai
"""


def fail(err: AnnoconvertError) -> None:
    """Print one clear line for an AnnoconvertError and exit with its code."""
    click.echo(f"annoconvert: error: {one_line(str(err))}", err=True)
    sys.exit(err.exit_code)


def one_line(message: str) -> str:
    """A message on one line: parser messages (ijson, lxml) can span several."""
    return " ".join(message.split())


class Terminated(BaseException):
    """SIGTERM reached the command line (a batch job's timeout, `kill`): raised where the run
    is, like Ctrl-C's KeyboardInterrupt, so that the run cleans up on its way out (the output's
    temporary file is removed, the checker and the image workers stopped)."""


def _terminated(owner: int) -> Callable[[int, object], None]:
    """SIGTERM's handler for the run in process `owner`: raise Terminated there.

    A child forked from it (the checker, an image worker) has the handler too until it sets
    its own (`children.default_signals`); a SIGTERM in that moment (the parent stopping a
    child it has just started, on an error) ends the child as the default action does, where
    raising inside multiprocessing's start-up printed `Process ForkProcess-1:` and a
    traceback under the command's one line."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
        if os.getpid() != owner:
            os.kill(os.getpid(), signal.SIGTERM)
            os._exit(128 + signal.SIGTERM)  # (not reached: the signal ends the process)
        raise Terminated

    return handler


@contextlib.contextmanager
def terminable() -> Iterator[None]:
    """SIGTERM raises Terminated inside (main thread only: Python runs handlers there); the
    handler before is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated(os.getpid()))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@functools.cache  # once a process
def _skip_final_collection() -> None:
    """Freeze the heap (`gc.freeze`) at the command line's exit, so that the interpreter's
    last collection does not walk every object the run made: 30-50 ms at the end of each
    benchmark run (COCO, Label Studio). What it would free is memory the exiting process
    gives back anyway; the run closes its files and removes its temporary ones itself, and
    atexit's other handlers still run. The freeze happens only at the interpreter's exit, so
    a program that calls the entry and goes on keeps its collector as it was."""
    atexit.register(gc.freeze)


CLICK_EXITS = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)
"""What click itself reports (usage errors, exits): passed on to it."""


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Every error inside becomes one line and a non-zero exit (`stop`); click's own exits
    and SystemExit pass on."""
    try:
        yield
    except (*CLICK_EXITS, SystemExit):
        raise
    except BaseException as err:
        stop(err)


def guarded(body: Callable[[], int | None]) -> None:
    """Run a command body: one line and a non-zero exit for every error, never a traceback."""
    with reported():
        code = body()
    sys.exit(code or 0)


def stop(err: BaseException) -> NoReturn:
    """Say in one line what stopped a command, and exit non-zero; a bug's traceback is shown
    only with ANNOCONVERT_DEBUG=1 (anything that is not an Exception is raised on)."""
    if isinstance(err, AnnoconvertError):
        fail(err)
    if isinstance(err, KeyboardInterrupt):
        click.echo("annoconvert: interrupted; nothing was written to the output", err=True)
        sys.exit(130)
    if isinstance(err, Terminated):
        click.echo("annoconvert: terminated; nothing was written to the output", err=True)
        sys.exit(128 + signal.SIGTERM)
    if isinstance(err, BrokenPipeError):
        sys.stderr.close()
        sys.exit(1)
    if isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""  # a system call on no file
        click.echo(f"annoconvert: error: {where}{err.strerror or err}", err=True)
        sys.exit(1)
    if not isinstance(err, Exception) or os.environ.get("ANNOCONVERT_DEBUG"):
        raise err
    click.echo(
        f"annoconvert: internal error: {type(err).__name__}: {err} "
        "(please report it; set ANNOCONVERT_DEBUG=1 for the traceback)",
        err=True,
    )
    sys.exit(1)


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


class LazyGroup(click.Group):
    """A group whose subcommands are built or imported only when used."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The command line's entry (`annoconvert`, `python -m annoconvert`; click's test
        runner calls `main` and leaves the process's signals alone): SIGTERM stops a run as
        Ctrl-C does."""
        _skip_final_collection()
        with terminable(), reported():
            return super().__call__(*args, **kwargs)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Before any reader imports numpy: its OpenBLAS would start a thread per core that
        # spins while idle (annoconvert's numpy work is sorting, no BLAS); on 2 cores those
        # threads took time from the conversion and its checker. A user's own value is kept.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        """Every subcommand, guarded: an error it does not report itself is one line too."""
        with reported():
            return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        from annoconvert import registry

        return [*registry.names("readers"), *SUBCOMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS:
            command: click.Command = _load(SUBCOMMANDS[cmd_name][0])
            return command
        from annoconvert import registry

        if cmd_name in registry.BUILTIN_READERS or cmd_name in registry.names("readers"):
            from annoconvert.commands.convert import reader_command

            return reader_command(cmd_name, READER_HELP.get(cmd_name))
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from annoconvert import registry

        rows = [
            (name, READER_HELP.get(name, f"Convert {name} exports."))
            for name in registry.names("readers")
        ]
        rows += [(name, help_) for name, (_, help_) in SUBCOMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, epilog=EXAMPLES)
@click.version_option(__version__, prog_name="annoconvert")
def main() -> None:
    """Turn annotation-tool exports into fine-tuning JSONL (chat messages, Base64 images,
    box_2d targets)."""
