"""Where readers, recipes and dialects are found, built-in or from plugins.

A plugin package declares entry points in the groups `annoconvert.readers`, `annoconvert.recipes`
and `annoconvert.dialects`; each points at an object of the matching protocol below. Built-ins are
registered by module path so that `annoconvert --help` imports none of them.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from annoconvert.errors import ConfigError

if TYPE_CHECKING:
    from annoconvert.model import AnnotationSet, Example, PreparedImage, Reject, Task
    from annoconvert.options import Options


@dataclass(frozen=True)
class ReaderOption:
    """A reader-specific option: its long name, help, choices and default (for CLI and docs)."""

    name: str
    help: str
    choices: tuple[str, ...] | None = None
    default: Any = None
    is_path: bool = False
    multiple: bool = False
    is_flag: bool = False


@runtime_checkable
class Reader(Protocol):
    """Reads one tool's export files into a stream of tasks (or rejects for bad tasks)."""

    name: str
    title: str
    options: tuple[ReaderOption, ...]

    def read(self, inputs: Sequence[str], options: Options) -> Iterator[Task | Reject]:
        """Yield every task of every input, in order; raise `InputError` for a file-level error."""
        ...

    def default_image_roots(self, inputs: Sequence[str]) -> list[str]:
        """Where this export's layout keeps images, used when the user gives no --images-root."""
        ...


@runtime_checkable
class Recipe(Protocol):
    """Turns a task and its chosen annotation into one training example."""

    name: str
    summary: str
    needs_images: bool

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        """Build the example(s) or raise `RecipeError` with a code (most recipes build one)."""
        ...


@runtime_checkable
class Dialect(Protocol):
    """Renders an example as one JSON object (the line written to the JSONL file)."""

    name: str
    summary: str
    preset: str

    def render(self, example: Example, options: Options) -> bytes:
        """Return one JSON document, without the trailing newline."""
        ...


BUILTIN_READERS: dict[str, str] = {
    "labelstudio": "annoconvert.readers.labelstudio:READER",
    "doccano": "annoconvert.readers.doccano:READER",
    "cvat": "annoconvert.readers.cvat:READER",
    "coco": "annoconvert.readers.coco:READER",
}
BUILTIN_RECIPES: dict[str, str] = {
    "classification": "annoconvert.recipes.text:CLASSIFICATION",
    "multilabel": "annoconvert.recipes.text:MULTILABEL",
    "ner": "annoconvert.recipes.text:NER",
    "extraction": "annoconvert.recipes.text:EXTRACTION",
    "summarization": "annoconvert.recipes.text:SUMMARIZATION",
    "dialogue": "annoconvert.recipes.dialogue:DIALOGUE",
    "image-classification": "annoconvert.recipes.vision:IMAGE_CLASSIFICATION",
    "image-to-text": "annoconvert.recipes.vision:IMAGE_TO_TEXT",
    "detection": "annoconvert.recipes.vision:DETECTION",
    "preference": "annoconvert.recipes.preference:PREFERENCE",
}
BUILTIN_DIALECTS: dict[str, str] = {
    "openai": "annoconvert.writers.openai:DIALECT",
    "vertex": "annoconvert.writers.vertex:DIALECT",
    "trl": "annoconvert.writers.trl:DIALECT",
    "sharegpt": "annoconvert.writers.sharegpt:DIALECT",
}
GROUPS = {
    "readers": "annoconvert.readers",
    "recipes": "annoconvert.recipes",
    "dialects": "annoconvert.dialects",
}


def _load_path(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def _plugin_paths(kind: str) -> dict[str, Callable[[], Any]]:
    from importlib.metadata import entry_points  # 20 ms to import: only when plugins are asked

    found: dict[str, Callable[[], Any]] = {}
    for ep in entry_points(group=GROUPS[kind]):
        found[ep.name] = ep.load
    return found


def _table(kind: str) -> dict[str, Callable[[], Any]]:
    builtins = {
        "readers": BUILTIN_READERS,
        "recipes": BUILTIN_RECIPES,
        "dialects": BUILTIN_DIALECTS,
    }
    table: dict[str, Callable[[], Any]] = {
        name: functools.partial(_load_path, path) for name, path in builtins[kind].items()
    }
    table.update(_plugin_paths(kind))
    return table


def names(kind: str) -> list[str]:
    """The registered names of `kind` ('readers', 'recipes' or 'dialects'), built-ins first."""
    return list(_table(kind))


def _get(kind: str, name: str) -> Any:
    builtins = {
        "readers": BUILTIN_READERS,
        "recipes": BUILTIN_RECIPES,
        "dialects": BUILTIN_DIALECTS,
    }
    if name in builtins[kind]:
        return _load_path(builtins[kind][name])  # plugins are looked up only for other names
    table = _table(kind)
    if name not in table:
        singular = kind[:-1]
        raise ConfigError(f"unknown {singular} {name!r}; choose one of: {', '.join(table)}")
    return table[name]()


def reader(name: str) -> Reader:
    """The reader registered as `name`."""
    obj: Reader = _get("readers", name)
    return obj


def recipe(name: str) -> Recipe:
    """The recipe registered as `name` (not `auto`: the pipeline resolves that first)."""
    obj: Recipe = _get("recipes", name)
    return obj


def dialect(name: str) -> Dialect:
    """The dialect registered as `name`."""
    obj: Dialect = _get("dialects", name)
    return obj
