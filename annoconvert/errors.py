"""Every error annoconvert raises on purpose.

    AnnoconvertError                 base; the CLI prints `str(err)` as one line and exits 1
    ├── InputError                   a file cannot be used as a whole (file-level, exit 1)
    │   ├── ParseError               not JSON/XML/UTF-8, truncated
    │   ├── ShapeError               valid JSON/XML but not this tool's export
    │   ├── UnsupportedVersionError  a format version the reader does not read
    │   ├── UnsafeInputError         XML entities/DOCTYPE, unsafe zip member, size over a cap
    │   └── TaskError                one task is bad (task-level: becomes a Reject with `code`)
    ├── MediaError                   an image cannot be found, read or prepared (task-level)
    ├── RecipeError                  a recipe cannot build an example from a task (task-level)
    ├── ConfigError                  options, templates, TOML config, label config (exit 1)
    ├── StopRun                      `--on-error fail` or `--max-errors` stopped the run (exit 1)
    └── ValidationFailed             `validate` or `agreement --min-agreement` found errors (exit 1)

Task-level errors carry a stable snake_case `code`; the pipeline turns them into `Reject`s and
goes on. An OSError (a full disk, a folder one may not write) is printed as one line naming
its file (`at_place` names one where the system did not). Everything else is a bug.
"""

from __future__ import annotations


class AnnoconvertError(Exception):
    """Base of every error annoconvert raises on purpose."""

    exit_code = 1

    def __reduce__(self) -> tuple[object, ...]:
        """Errors cross process boundaries (media workers, Dask): rebuild them from their state."""
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(
    cls: type[AnnoconvertError], args: tuple[object, ...], state: dict[str, object]
) -> AnnoconvertError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class InputError(AnnoconvertError):
    """A problem with an input file, located as precisely as the reader can."""

    def __init__(self, message: str, *, file: str | None = None, locator: str | None = None):
        self.message = message
        self.file = file
        self.locator = locator
        super().__init__(self._line())

    def _line(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.locator:
                where += f" at {self.locator}"
            where += ": "
        elif self.locator:
            where = f"{self.locator}: "
        return where + self.message


class ParseError(InputError):
    """The file is not well-formed JSON/XML/CSV or not valid UTF-8, or it is truncated."""


class ShapeError(InputError):
    """The file parses but is not an export of this tool (wrong top-level shape)."""


class UnsupportedVersionError(InputError):
    """The export is of a format version this reader does not read."""


class UnsafeInputError(InputError):
    """The input holds something annoconvert refuses to process (entities, zip traversal, bombs)."""


class TaskError(InputError):
    """One task is bad; the pipeline rejects it with `code` and goes on."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        task: int | str | None = None,
        file: str | None = None,
        locator: str | None = None,
    ):
        self.code = code
        self.task = task
        super().__init__(message, file=file, locator=locator)


class MediaError(AnnoconvertError):
    """An image cannot be found, read, or prepared; rejects the task with `code`."""

    def __init__(self, code: str, message: str, *, uri: str | None = None):
        self.code = code
        self.uri = uri
        super().__init__(message)


class RecipeError(AnnoconvertError):
    """A recipe cannot build an example from a task; rejects the task with `code`."""

    def __init__(self, code: str, message: str, *, locator: str | None = None):
        self.code = code
        self.locator = locator
        super().__init__(message)


class ConfigError(AnnoconvertError):
    """Options, a template, a TOML config or a label config is wrong; found before writing.

    Exit 1 like a file-level error: the run could not start. (Exit 2 stays click's, for
    command-line usage errors such as an unknown option or a bad choice.)"""


class StopRun(AnnoconvertError):
    """`--on-error fail` or `--max-errors` ended the run."""


class ValidationFailed(AnnoconvertError):
    """A check command found errors (`validate`, `agreement --min-agreement`)."""


def at_place(err: OSError, place: str) -> OSError:
    """`err` naming `place` when the system named no file (a write to an open file): the
    command line prints an OSError as `annoconvert: error: <file>: <reason>`, and "No space
    left on device" alone does not say which disk."""
    if err.filename is not None:
        return err
    return type(err)(err.errno, err.strerror or str(err), place)
