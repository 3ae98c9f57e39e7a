"""The task model every reader produces and every recipe consumes.

Readers turn a tool's export into `Task` objects; recipes turn a `Task` into an `Example`.
The classes are slotted dataclasses, immutable by convention (nothing mutates one after it is
built; `dataclasses.replace` makes a changed copy): a 100k-task export builds about two million
of these objects and readers have already checked every value they copy in. Measured here per
flat region: a validated pydantic model 1.1 us, a frozen dataclass 0.62 us (frozen construction
goes through object.__setattr__), a plain slotted dataclass 0.15 us — about 0.9 s per 100k
tasks between the last two. Pydantic still validates and serializes them at the boundaries through
`TASK_ADAPTER` and `REGION_ADAPTER`; options and reports are pydantic models.

Conventions (the only ones; `geometry.py` converts every tool's units into these):
- geometry is normalized to the image as displayed (after EXIF orientation): 0..1, origin top-left;
- a box is its *unrotated* rectangle plus `rotation`, degrees clockwise about the box centre;
- span offsets are Python string indices (code points), end exclusive;
- `image_width`/`image_height` are the pixel size the tool recorded, when it recorded one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

JsonValue: TypeAlias = Any
"""Any value `json.loads` can return."""


@dataclass(slots=True)
class Source:
    """Where a task came from: the reader's name, the file and a locator such as `tasks[12]`."""

    format: str
    file: str
    locator: str


@dataclass(slots=True)
class ImageRef:
    """An image as the export names it; `width`/`height` as the tool recorded them (upright).

    `hint` is a path relative to an image root tried before any other match: a project
    export keeps `img0.jpg` of each subset in `images/<subset>/`, and the name alone would be
    ambiguous.
    """

    uri: str
    width: int | None = None
    height: int | None = None
    field: str = "image"
    hint: str | None = None


@dataclass(slots=True)
class Turn:
    """One turn of a dialogue held in the task's input data."""

    speaker: str
    text: str


# --- regions -------------------------------------------------------------------------------


@dataclass(slots=True)
class Choice:
    """Classes chosen for the whole input (Label Studio Choices, Doccano labels, CVAT tags)."""

    field: str
    labels: tuple[str, ...]
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["choice"] = "choice"


@dataclass(slots=True)
class Span:
    """A labelled character range of the text: `text[start:end]` (code points, end exclusive)."""

    field: str
    start: int
    end: int
    labels: tuple[str, ...]
    text: str
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["span"] = "span"


@dataclass(slots=True)
class Relation:
    """A labelled link between two regions, by their ids."""

    from_id: str
    to_id: str
    labels: tuple[str, ...] = ()
    direction: Literal["right", "left", "bi"] = "right"
    field: str = "relation"
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["relation"] = "relation"


@dataclass(slots=True)
class TextAnswer:
    """Free text written by the annotator (TextArea, seq2seq target, caption).

    `region_id` links a per-region answer to the region it describes.
    """

    field: str
    texts: tuple[str, ...]
    region_id: str | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["text"] = "text"


@dataclass(slots=True)
class Box:
    """An image rectangle: unrotated box normalized 0..1 plus rotation (deg cw about its centre)."""

    field: str
    labels: tuple[str, ...]
    x: float
    y: float
    width: float
    height: float
    rotation: float = 0.0
    image_width: int | None = None
    image_height: int | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["box"] = "box"


@dataclass(slots=True)
class Polygon:
    """A closed polygon, points normalized 0..1."""

    field: str
    labels: tuple[str, ...]
    points: tuple[tuple[float, float], ...]
    image_width: int | None = None
    image_height: int | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["polygon"] = "polygon"


@dataclass(slots=True)
class Polyline:
    """An open line of points, normalized 0..1."""

    field: str
    labels: tuple[str, ...]
    points: tuple[tuple[float, float], ...]
    image_width: int | None = None
    image_height: int | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["polyline"] = "polyline"


@dataclass(slots=True)
class Points:
    """Labelled points (keypoints), normalized 0..1.

    `visibility` follows COCO (0 absent, 1 hidden, 2 visible) when the tool records it;
    `names` names each point when the tool does (COCO keypoint names, skeleton children).
    """

    field: str
    labels: tuple[str, ...]
    points: tuple[tuple[float, float], ...]
    visibility: tuple[int, ...] | None = None
    names: tuple[str, ...] | None = None
    image_width: int | None = None
    image_height: int | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["points"] = "points"


@dataclass(slots=True)
class Mask:
    """A bitmap as row-major run lengths over its own pixel box, starting with a background run.

    `left`/`top`/`mask_width`/`mask_height` are pixels of the upright image of size
    `image_width` x `image_height` (a mask always knows its image size).
    """

    field: str
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    left: int
    top: int
    mask_width: int
    mask_height: int
    image_width: int
    image_height: int
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["mask"] = "mask"


@dataclass(slots=True)
class Ellipse:
    """An ellipse: centre and radii normalized 0..1, rotation degrees clockwise."""

    field: str
    labels: tuple[str, ...]
    cx: float
    cy: float
    rx: float
    ry: float
    rotation: float = 0.0
    image_width: int | None = None
    image_height: int | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["ellipse"] = "ellipse"


@dataclass(slots=True)
class Cuboid:
    """A CVAT cuboid: eight corners normalized 0..1. Read and kept; no recipe renders it."""

    field: str
    labels: tuple[str, ...]
    points: tuple[tuple[float, float], ...]
    image_width: int | None = None
    image_height: int | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["cuboid"] = "cuboid"


@dataclass(slots=True)
class Rating:
    """A numeric rating (stars)."""

    field: str
    value: float
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["rating"] = "rating"


@dataclass(slots=True)
class Number:
    """A number entered by the annotator (Label Studio Number); ints stay ints."""

    field: str
    value: int | float
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["number"] = "number"


@dataclass(slots=True)
class DateTime:
    """A date/time entered by the annotator, as the tool wrote it."""

    field: str
    value: str
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["datetime"] = "datetime"


@dataclass(slots=True)
class Taxonomy:
    """Paths chosen in a taxonomy tree, each from the root down."""

    field: str
    paths: tuple[tuple[str, ...], ...]
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["taxonomy"] = "taxonomy"


@dataclass(slots=True)
class Pairwise:
    """Which of two candidates the annotator preferred: `left` or `right`."""

    field: str
    selected: Literal["left", "right"]
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["pairwise"] = "pairwise"


@dataclass(slots=True)
class Ranking:
    """Items ordered by preference, best first; `buckets` keeps Label Studio's named lists."""

    field: str
    ranked: tuple[str, ...]
    buckets: dict[str, tuple[str, ...]] | None = None
    id: str | None = None
    attributes: dict[str, JsonValue] | None = None
    kind: Literal["ranking"] = "ranking"


Region: TypeAlias = (
    Choice
    | Span
    | Relation
    | TextAnswer
    | Box
    | Polygon
    | Polyline
    | Points
    | Mask
    | Ellipse
    | Cuboid
    | Rating
    | Number
    | DateTime
    | Taxonomy
    | Pairwise
    | Ranking
)
PART_OF = "part_of"
"""Region attribute: this region outlines the same object as the region with that id (a COCO
annotation's segmentation beside its box). Box-writing recipes write such an object once."""
GEOMETRY_KINDS = frozenset({"box", "polygon", "polyline", "points", "mask", "ellipse", "cuboid"})


@dataclass(slots=True)
class AnnotationSet:
    """One annotator's (or one model's) answer for a task.

    `annotator` is named as the export names it (Label Studio's `completed_by` id as a string,
    a Doccano user file's stem); None when the tool records no one.
    """

    regions: tuple[Region, ...]
    annotator: str | None = None
    ground_truth: bool = False
    cancelled: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    id: str | None = None
    model_version: str | None = None
    score: float | None = None


@dataclass(slots=True)
class Task:
    """One input item of an export with every annotation made on it."""

    id: int | str
    source: Source
    text: str | None = None
    images: tuple[ImageRef, ...] = ()
    turns: tuple[Turn, ...] | None = None
    fields: dict[str, JsonValue] = field(default_factory=dict)
    annotations: tuple[AnnotationSet, ...] = ()
    predictions: tuple[AnnotationSet, ...] = ()
    subset: str | None = None


@dataclass(slots=True)
class Reject:
    """A task (or line) that was not written, and why. `code` is a stable snake_case name."""

    task: int | str | None
    file: str
    locator: str
    code: str
    reason: str

    def as_dict(self) -> dict[str, JsonValue]:
        """The rejects-file shape: task, file, locator, code, reason."""
        return {
            "task": self.task,
            "file": self.file,
            "locator": self.locator,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(slots=True)
class Warning_:
    """A problem worth telling the user that did not stop a task from being written."""

    code: str
    message: str
    task: int | str | None = None
    file: str | None = None


# --- examples ------------------------------------------------------------------------------


@dataclass(slots=True)
class TextPart:
    """Text content of a message."""

    text: str
    type: Literal["text"] = "text"


@dataclass(slots=True)
class ImagePart:
    """An image in a message; `image` is the prepared image the dialect writes."""

    image: PreparedImage
    type: Literal["image"] = "image"


@dataclass(slots=True)
class PreparedImage:
    """An image ready for output.

    `data` is the encoded file (bytes) in embed mode; `uri` the reference in reference mode;
    `name` the display name used by placeholder mode. `width`/`height` are the pixels of the
    image as embedded (after EXIF transpose and resize): box numbers refer to them.
    """

    source_uri: str
    name: str
    width: int
    height: int
    mime: str | None = None
    data: bytes | None = None
    uri: str | None = None
    path: str | None = None


Part: TypeAlias = TextPart | ImagePart
Role: TypeAlias = Literal["system", "user", "assistant"]


@dataclass(slots=True)
class Message:
    """One chat message; `weight` is 0 for turns that are context only, None when unset."""

    role: Role
    parts: tuple[Part, ...]
    weight: int | None = None

    @property
    def text(self) -> str:
        """The message's text parts joined (images left out)."""
        parts = self.parts
        if len(parts) == 1 and isinstance(parts[0], TextPart):
            return parts[0].text  # the common case, without a join
        return "".join(p.text for p in parts if isinstance(p, TextPart))


@dataclass(slots=True)
class Example:
    """One training example: the messages, plus what splits and checks need to know.

    `label` is the stratification key (the class, or None), `group` keeps one source document
    or image in one split. Preference examples carry `preferred`/`non_preferred` answers and
    end their `messages` with the last user turn.
    """

    task_id: int | str
    source: Source
    messages: tuple[Message, ...]
    multimodal: bool = False
    label: str | None = None
    group: str | None = None
    annotator: str | None = None
    preferred: tuple[Message, ...] | None = None
    non_preferred: tuple[Message, ...] | None = None

    def _repr_html_(self) -> str:
        """Notebook view: the same rendering as `annoconvert preview`."""
        from annoconvert.preview import example_html

        return example_html(self)


_ADAPTERS: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """`TASK_ADAPTER` and `REGION_ADAPTER`, built on first use (40 ms we keep off start-up)."""
    if name in ("REGION_ADAPTER", "TASK_ADAPTER"):
        from pydantic import Field, TypeAdapter

        if not _ADAPTERS:
            _ADAPTERS["REGION_ADAPTER"] = TypeAdapter(
                Annotated[Region, Field(discriminator="kind")]
            )
            _ADAPTERS["TASK_ADAPTER"] = TypeAdapter(Task)
        return _ADAPTERS[name]
    raise AttributeError(f"module 'annoconvert.model' has no attribute {name!r}")


if TYPE_CHECKING:
    from pydantic import TypeAdapter

    REGION_ADAPTER: TypeAdapter[Region]
    TASK_ADAPTER: TypeAdapter[Task]
