"""The express lane: common tasks written straight from their JSON, laid out by the general path.

Why: for a plain text-classification export the general path (task model -> policy -> recipe
-> dialect) costs about 20 us a task beyond parsing, where the line itself is a fixed layout
with two strings in it. The lane takes a task whose JSON has exactly the common shape (the
reader's `extract` says so and returns the strings), and writes `layout` with the strings put
in. The layout is not written here: it is cut from the general path's own line for the first
such task, and the first `VERIFY` lane tasks are converted both ways and must match byte for
byte, or the lane closes for the rest of the run. Any task of another shape, and every task
when an option could change the line, goes the general way, with its rejects and warnings.
A lane with images writes, in reference mode, the export's URI or, under `--image-uri-prefix`,
the URI the general path's own media preparation gives (`Switch.prepare`); in embed mode, the
data URL of the bytes that preparation read and checked, when the image is embedded as it is
(no pixel work, no warning: any other image sends its task the general way, where the worker
pool and the run's warnings are). While the general path holds tasks back for the pool
(`Lane.busy`), a lane line is handed to it (`Written`) and waits its turn behind them, so that
every line keeps its place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from annoconvert.boxes import format_boxes
from annoconvert.errors import AnnoconvertError
from annoconvert.model import ImageRef, PreparedImage, Region, Reject, Source, Task
from annoconvert.options import Options
from annoconvert.recipes.common import dumps_boxes, render, template_names
from annoconvert.writers.images import data_url_json
from annoconvert.writers.sharegpt import IMAGE_TOKEN
from annoconvert.writers.sink import NO_META, LineMeta

if TYPE_CHECKING:
    from annoconvert.output import Output
    from annoconvert.pipeline import RunStats

ENABLED = True
"""Off in tests that compare the lane with the general path."""
VERIFY = 64
"""Lane tasks converted both ways (and compared) before the layout is trusted."""
CALIBRATION_TRIES = 16
"""Tasks tried for cutting the layout (a string found more than once is ambiguous)."""

SAME_LINE_OPTIONS = frozenset(
    {
        "conflicts",
        "dedupe",
        "validate_output",
        "rejects",
        "on_error",
        "max_errors",
        "workers",
        "quiet",
        "label_config",
        "seed",
        "split",
        "shard_size",
        "preset",
    }
)
"""Options that never change a written line (the checks read the line; the rest is the run).
A preset's image limits decide, in embed mode, which images need pixel work, and the lane
asks the media pipeline's own `prepare_as_is`, which applies them: an image they do not let
through as it is goes the general way."""


class JsonText(bytes):
    """A value of a line already written as JSON (a data URL: Base64 needs no escaping, and
    encoding it again would scan and copy every byte of the image once more)."""


Value = str | JsonText
Found = tuple[int | str, tuple[Value, ...], LineMeta]
"""(task id, the line's values, its meta): what `Extract` gives for a lane task."""
Extract = Callable[[Any], "Found | None"]
"""A reader's test of a task's JSON: (task id, the values of its line, what `--split` needs of
the line: `MetaOf`'s) when the task has the common shape, else None."""
GeneralLines = Callable[[Task], "list[tuple[bytes, LineMeta]] | None"]
MetaOf = Callable[[str | None, str | None, str | None], LineMeta]
"""(group, label, subset) -> the line's meta, as the general path makes it from its example
(`group_key`, the example's label, the task's subset) under `--split`; `NO_META` without."""


def meta_of(options: Options) -> MetaOf:
    """`MetaOf` for the run: a lane line tells a split what the general path's line tells."""
    if options.split:
        return LineMeta
    return _no_meta


def _no_meta(group: str | None, label: str | None, subset: str | None) -> LineMeta:
    return NO_META


Prepare = Callable[[Sequence[ImageRef]], list[PreparedImage]]


@dataclass(slots=True)
class Written:
    """A lane task's line handed to the general path, which writes it in its turn (behind the
    tasks it holds for the pool). It has no images to prepare."""

    task: Task
    line: bytes
    meta: LineMeta
    images: tuple[()] = ()


@dataclass(slots=True)
class RawTask:
    """A task the reader handed over unbuilt: its JSON object, where it is, how to build it."""

    item: Any
    source: Source
    build: Callable[[], Task | Reject]


class RawRun:
    """Consecutive tasks of one file handed over unbuilt, for a reader whose lane tasks come
    in long runs (COCO's images): their JSON objects (`items`), and by position where each is
    and how to build it, made only when a task goes the general way, is verified or has its
    line written (a RawTask per COCO image, with its Source and builder, was a fifth of the
    loop's time outside the answers)."""

    __slots__ = ("items",)

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = items

    def source(self, k: int) -> Source:
        raise NotImplementedError

    def build(self, k: int) -> Task | Reject:
        raise NotImplementedError

    def raw(self, k: int) -> RawTask:
        """The task at position `k` as a RawTask."""
        return RawTask(self.items[k], self.source(k), functools.partial(self.build, k))


class Switch:
    """Between the pipeline and a reader with a lane: the reader puts its test for this run's
    tasks in `extract` (None: no lane for them); once `on`, it hands tasks over as RawTask
    or RawRun.
    `prepare` is the general path's preparation of a task's images as they are found, set by
    the pipeline when it opens a lane whose images are embedded or written under a URI prefix
    (see `as_written`)."""

    __slots__ = ("extract", "on", "prepare")

    def __init__(self) -> None:
        self.extract: Extract | None = None
        self.on = False
        self.prepare: Prepare | None = None


ONE_ANNOTATION_POLICIES = ("latest", "all", "majority", "agreed")
"""The annotator policies that choose a task's one annotation, which is all a lane task has
(`ground-truth` needs its flag)."""
LANE_RECIPES: dict[str, dict[str, tuple[object, ...]]] = {
    "classification": {
        "dialect": ("openai", "vertex", "trl", "sharegpt"),
        "annotators": ONE_ANNOTATION_POLICIES,
    },
    "detection": {
        "annotators": ONE_ANNOTATION_POLICIES,
        "dialect": ("openai",),
        "image_mode": ("reference", "embed"),
    },
}
"""The recipes the lane knows, each with the values it takes of the options it needs
(detection: the image as a URI or embedded; `LANE_ANY_VALUE` has the options it takes at any
value). A classification line is two strings in any dialect that writes them as they are
(Vertex's parts, TRL's messages, sharegpt's turns; sharegpt rejects a text holding `<image>`,
so such a task goes the general way: `DIALECT_REFUSED_TEXT`); a detection line's image is
written by each dialect its own way (TRL lists a found file's path, sharegpt adds `<image>`
tokens, Vertex splits the data URL): those stay on the general path."""
DIALECT_REFUSED_TEXT = {"sharegpt": IMAGE_TOKEN}
"""A text a dialect rejects inside a line's strings: a lane task holding it goes the general
way, which rejects it (`dialect_extract`)."""
CLASS_VALUES = frozenset({"text", "label", "labels"})
"""The template values a classification lane fills in itself: its line's text and class."""
LANE_TEMPLATES: dict[str, dict[str, frozenset[str]]] = {
    "classification": {
        "system": frozenset(),
        "prompt": CLASS_VALUES,
        "answer_template": CLASS_VALUES,
    },
    "detection": {"system": frozenset(), "prompt": frozenset()},
}
"""Per recipe, the templates the lane takes and the values each may name. A template that
names none is the same text on every line, which the layout holds; a classification's
prompt and answer are rendered by `class_line`."""
RENAME_OPTIONS = frozenset({"labels"})
"""Options every lane takes at any value: the renames, which each reader's test writes
through the recipes' `rename` (`class_line`, `format_boxes`, COCO's `written_names`, CVAT's
plain answer)."""
IMAGE_URI_OPTIONS = frozenset({"image_uri_prefix", "images_root"})
"""Options a lane with images takes at any value: they change only where the image is found
and the URI written in reference mode, which the lane gets from `Switch.prepare`, as the general
path does."""
PIXEL_OPTIONS = frozenset({"max_image_side", "image_format", "jpeg_quality"})
"""Options a detection lane takes at any value: in embed mode the media pipeline's
`prepare_as_is` turns away each image they would change (it then goes the general way, to the
pool, read once: `MediaPipeline._started`), and in reference mode no path reads them."""
BOX_OPTIONS = frozenset({"box_format", "box_order", "image_detail"})
"""Options a detection lane takes at any value: the answer is `format_boxes`'s in any format
and order (a reader's test that writes one format itself refuses the others: CVAT's), and
the image's `detail` is the same on every line."""
LANE_ANY_VALUE: dict[str, frozenset[str]] = {
    "classification": RENAME_OPTIONS,
    "detection": RENAME_OPTIONS | IMAGE_URI_OPTIONS | PIXEL_OPTIONS | BOX_OPTIONS,
}
"""Per recipe, the options the lane takes at any value."""


def as_written(ref: ImageRef, prepare: Prepare | None) -> PreparedImage:
    """The image as the line shows it: through `prepare` when the pipeline set one (embed
    mode, or a URI written under a prefix), else, in reference mode, with the export's URI and
    size, as the media pipeline gives it then (its display name is not written by any lane)."""
    if prepare is not None:
        (image,) = prepare([ref])
        return image
    return PreparedImage(
        source_uri=ref.uri,
        name=ref.uri,
        width=ref.width or 0,
        height=ref.height or 0,
        uri=ref.uri,
    )


def box_line(
    ref: ImageRef, shapes: Sequence[Region], prepare: Prepare | None, options: Options
) -> tuple[Value, str] | None:
    """(image URL, answer) of a detection line: the image as written (`image_value`), the
    shapes as the recipe writes them (`format_boxes`, `dumps_boxes`); None where either refuses,
    so that the general path converts the task and says why."""
    try:
        image = as_written(ref, prepare)
        answer = dumps_boxes(format_boxes(shapes, image, options))
    except AnnoconvertError:
        return None
    url = _url_value(image)
    return None if url is None else (url, answer)


def image_value(ref: ImageRef, prepare: Prepare | None) -> Value | None:
    """The image's URL as a line writes it (`as_written`; embedded, its data URL as JSON
    text); None where the preparation refuses it."""
    try:
        image = as_written(ref, prepare)
    except AnnoconvertError:
        return None
    return _url_value(image)


def _url_value(image: PreparedImage) -> Value | None:
    if image.data is not None:
        return JsonText(data_url_json(image))
    return image.uri


def options_allow(options: Options, recipe: str) -> bool:
    """Whether the lane may run: the recipe is one it knows, its options are set as it needs,
    and no other option that could change a line differs from its default."""
    needed = LANE_RECIPES.get(recipe)
    if not ENABLED or needed is None:
        return False
    defaults = Options()
    free = LANE_ANY_VALUE[recipe]
    templates = LANE_TEMPLATES.get(recipe, {})
    for name in Options.model_fields:
        if name in SAME_LINE_OPTIONS or name in free or name == "recipe":
            continue
        template = getattr(options, name) if name in templates else None
        if template is not None and template_names(template) <= templates[name]:
            continue
        allowed = needed[name] if name in needed else (getattr(defaults, name),)
        if getattr(options, name) not in allowed:
            return False
    return True


ClassLine = Callable[[str, str], "tuple[tuple[str, str], str] | None"]


def class_line(options: Options) -> ClassLine | None:
    """How a classification lane's line shows its text and class under the run's renames and
    templates: ((the user's message, the answer), the class as written). The class is renamed
    by the recipes' `rename`; the prompt and the answer are rendered by their `render` from
    the values `CLASS_VALUES` names (which `options_allow` holds the templates to). None when
    the line shows the text and the class as they are (no rename, no prompt, no answer
    template, or `{text}` and `{label}`). A task whose class is renamed to nothing, or whose
    message or answer renders empty (or not at all), is left to the general path."""
    prompt = options.prompt if options.prompt not in (None, "{text}") else None
    answer = options.answer_template if options.answer_template not in (None, "{label}") else None
    renames = options.labels
    if prompt is None and answer is None and not renames:
        return None

    def shown(text: str, label: str) -> tuple[tuple[str, str], str] | None:
        label = renames.get(label, label) if renames else label
        named = {"text": text, "label": label, "labels": label}
        try:
            user = render(prompt, named) if prompt is not None else text
            said = render(answer, named) if answer is not None else label
        except (AnnoconvertError, ValueError):
            return None
        return ((user, said), label) if user and said else None

    return shown


def template_uses_text(options: Options) -> bool:
    """Whether the run's prompt or answer template names `{text}`."""
    return any("text" in template_names(t) for t in (options.prompt, options.answer_template) if t)


def _json(value: Value) -> bytes:
    return value if isinstance(value, JsonText) else orjson.dumps(value)


def _cut(line: bytes, values: Sequence[Value]) -> list[bytes] | None:
    """The line around the JSON-encoded values, in order, each found exactly once."""
    pieces: list[bytes] = []
    rest = line
    for value in values:
        encoded = _json(value)
        if line.count(encoded) != 1:
            return None
        at = rest.find(encoded)
        if at < 0:
            return None
        pieces.append(rest[:at])
        rest = rest[at + len(encoded) :]
    pieces.append(rest)
    return pieces


def dialect_extract(extract: Extract, dialect: str) -> Extract:
    """`extract` for a run in `dialect`: a task one of whose strings holds a text the dialect
    rejects (`DIALECT_REFUSED_TEXT`) goes the general way, which says why."""
    refused = DIALECT_REFUSED_TEXT.get(dialect)
    if refused is None:
        return extract

    def refusing(item: Any) -> Found | None:
        found = extract(item)
        if found is None or any(type(v) is str and refused in v for v in found[1]):
            return None
        return found

    return refusing


class Lane:
    """Writes the lines of common tasks from `extract`'s strings and a verified layout."""

    def __init__(
        self, extract: Extract, general: GeneralLines, busy: Callable[[], bool] | None = None
    ):
        self.extract = extract
        self.general = general
        self.busy = busy
        """Whether the general path holds earlier tasks back (the media pool's window): a
        lane line written now would overtake them, so it is handed on (`Written`)."""
        self.layout: list[bytes] | None = None
        self.verified = 0
        self.tries = 0
        self.open = True
        self.lines = 0
        """Lines the lane gave (the verified ones included)."""

    def line(self, raw: RawTask) -> tuple[int | str, bytes, LineMeta] | None:
        """The task's id, line and meta, or None: the general path converts it."""
        if self.verified >= VERIFY:
            return self.filled(raw.item)
        found = self._encoded(raw.item)
        if found is None:
            return None
        task_id, values, encoded, meta = found
        line = self._checked(raw, task_id, values, encoded, meta)
        if line is None:
            return None
        self.lines += 1
        return task_id, line, meta

    def filled(self, item: Any) -> tuple[int | str, bytes, LineMeta] | None:
        """`line` once the layout is verified, which needs the task's JSON object only."""
        found = self._encoded(item)
        if found is None:
            return None
        assert self.layout is not None
        self.lines += 1
        return found[0], _fill(self.layout, found[2]), found[3]

    def _encoded(
        self, item: Any
    ) -> tuple[int | str, Sequence[Value], list[bytes], LineMeta] | None:
        """(task id, `extract`'s values, each as JSON, the line's meta) while the lane is
        open; None for a task the general path converts."""
        if not self.open:
            return None
        found = self.extract(item)
        if found is None:
            return None
        try:
            encoded = [_json(v) for v in found[1]]
        except orjson.JSONEncodeError:
            return None  # a lone surrogate: the general path says what is wrong
        return found[0], found[1], encoded, found[2]

    def _checked(
        self,
        raw: RawTask,
        task_id: int | str,
        values: Sequence[Value],
        encoded: list[bytes],
        meta: LineMeta,
    ) -> bytes | None:
        """Convert the general way, cut or check the layout and the meta; close the lane on
        a mismatch."""
        built = raw.build()
        if isinstance(built, Reject) or built.id != task_id or built.source != raw.source:
            self.open = False  # `extract` took a task the reader sees otherwise: its test is wrong
            return None
        lines = self.general(built)
        if lines is None or len(lines) != 1 or lines[0][1] != meta:
            self.open = False
            return None
        line = lines[0][0]
        if self.layout is None:
            self.tries += 1
            self.layout = _cut(line, values)
            if self.layout is None:
                self.open = self.tries < CALIBRATION_TRIES
                return None
        if _fill(self.layout, encoded) != line:
            self.open = False
            return None
        self.verified += 1
        return line


def _fill(layout: list[bytes], encoded: list[bytes]) -> bytes:
    if len(encoded) == 2:  # the common layout (text and class) in one join: 0.3 us, not 0.9
        return b"".join((layout[0], encoded[0], layout[1], encoded[1], layout[2]))
    parts = [layout[0]]
    for value, after in zip(encoded, layout[1:], strict=True):
        parts.append(value)
        parts.append(after)
    return b"".join(parts)


def through(
    stream: Iterable[Task | Reject | RawTask | RawRun],
    lane: Lane,
    out: Output,
    stats: RunStats,
    progress: Callable[[int], None] | None,
) -> Iterator[Task | Reject | Written]:
    """The stream for the general path: lane tasks are written here, in their place, the
    others built and passed on. (The general path converts one task at a time in order, so a
    lane line lands between the lines of the tasks before and after it; while it holds tasks
    for the pool, the line is handed on to wait behind them.)"""
    for item in stream:
        if isinstance(item, RawRun):
            yield from _through_run(item, lane, out, stats, progress)
            continue
        if not isinstance(item, RawTask):
            yield item
            continue
        found = lane.line(item)
        if found is None:
            yield item.build()
            continue
        handed_on = _write(found, item.source, lane, out, stats, progress)
        if handed_on is not None:
            yield handed_on


def _through_run(
    run: RawRun,
    lane: Lane,
    out: Output,
    stats: RunStats,
    progress: Callable[[int], None] | None,
) -> Iterator[Task | Reject | Written]:
    """`through` for a run of tasks: a task gets its RawTask only while the lane verifies."""
    for k, item in enumerate(run.items):
        found = lane.filled(item) if lane.verified >= VERIFY else lane.line(run.raw(k))
        if found is None:
            yield run.build(k)
            continue
        handed_on = _write(found, run.source(k), lane, out, stats, progress)
        if handed_on is not None:
            yield handed_on


def _write(
    found: tuple[int | str, bytes, LineMeta],
    source: Source,
    lane: Lane,
    out: Output,
    stats: RunStats,
    progress: Callable[[int], None] | None,
) -> Written | None:
    """Write a lane task's line now, or hand it on (`Written`) while the general path holds
    tasks for the pool."""
    task_id, line, meta = found
    stats.read += 1
    if lane.busy is not None and lane.busy():
        return Written(Task(task_id, source), line, meta)  # written, progress told, in turn
    out.write_line(task_id, source, line, meta)
    if progress is not None:
        progress(stats.read)
    return None


def general_lines(
    recipe: Any,
    dialect: Any,
    options: Options,
    select: Callable[[Task, str], Any],
    images: Callable[[Task], Sequence[Any]],
) -> GeneralLines:
    """The general path for one built task, without side effects: its lines, or None when
    it would reject the task. `images` prepares the task's images (in reference mode: no file
    is read)."""

    meta = meta_of(options)

    def lines(task: Task) -> list[tuple[bytes, LineMeta]] | None:
        try:
            chosen = select(task, options.annotators).chosen
            prepared = images(task)
            out: list[tuple[bytes, LineMeta]] = []
            for annotation in chosen:
                for example in recipe.build(task, annotation, prepared, options):
                    line = dialect.render(example, options)
                    out.append((line, meta(example.group, example.label, task.subset)))
            return out
        except (AnnoconvertError, ValueError, TypeError):
            return None

    return lines
