"""Label Studio labeling config (the project's XML): controls, declared labels, data keys.

The config tells the reader what the export alone cannot: which data key each object shows
(`<Text name="text" value="$text"/>`), which labels a control declares (to reject labels it does
not), and which JSON-MIN columns are controls of which type. Parsed with lxml, entities and the
network off; a DOCTYPE is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from annoconvert.errors import ConfigError

OBJECT_TAGS = frozenset(
    {
        "text",
        "hypertext",
        "paragraphs",
        "image",
        "audio",
        "audioplus",
        "video",
        "timeseries",
        "table",
        "list",
        "chat",
        "pdf",
        "markdown",
    }
)
"""Object tags (they show data); any other tag with `name` and `toName` is a control."""


@dataclass(frozen=True, slots=True)
class Control:
    """A control tag: what the annotator answers with (Choices, Labels, TextArea, ...)."""

    name: str
    type: str
    to_name: tuple[str, ...]
    labels: tuple[str, ...] = ()
    per_region: bool = False
    value_key: str | None = None
    taxonomy_paths: frozenset[tuple[str, ...]] = frozenset()


@dataclass(frozen=True, slots=True)
class DataObject:
    """An object tag: shows one data key (`value="$key"`)."""

    name: str
    type: str
    value_key: str | None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LabelConfig:
    """The parts of a labeling config the reader uses."""

    file: str
    controls: dict[str, Control]
    objects: dict[str, DataObject]
    relation_labels: tuple[str, ...] = ()
    task_fields: dict[str, object] = field(default_factory=dict)
    """`__labels__`, `__controls__` and `__targets__`, built once and shared by every task."""
    keyed_objects: tuple[DataObject, ...] = field(init=False, default=())
    """The objects that show a data key, in config order (looked at for every task)."""
    has_images: bool = field(init=False, default=True)
    """Whether an Image object shows data (else no result needs an image size)."""

    def __post_init__(self) -> None:
        keyed = tuple(o for o in self.objects.values() if o.value_key is not None)
        object.__setattr__(self, "keyed_objects", keyed)
        images = any(o.type == "image" for o in self.objects.values())
        object.__setattr__(self, "has_images", images)

    def declared_labels(self) -> dict[str, list[str]]:
        """`__labels__`: control name -> declared labels in order (controls that declare some)."""
        return {name: list(c.labels) for name, c in self.controls.items() if c.labels}

    def control_types(self) -> dict[str, str]:
        """`__controls__`: control name -> control tag lowercased."""
        return {name: c.type for name, c in self.controls.items()}

    def targets(self) -> dict[str, list[str]]:
        """`__targets__`: control name -> the data keys its `toName` objects show, in order
        (a Pairwise over `answer1,answer2` -> ["answer1", "answer2"])."""
        out: dict[str, list[str]] = {}
        for name, control in self.controls.items():
            keys = [
                obj.value_key
                for target in control.to_name
                if (obj := self.objects.get(target)) is not None and obj.value_key is not None
            ]
            if keys:
                out[name] = keys
        return out

    def object_keys(self, *types: str) -> list[str]:
        """Data keys shown by objects of the given tag types, in config order."""
        return [
            o.value_key
            for o in self.objects.values()
            if o.value_key is not None and (not types or o.type in types)
        ]


def _data_key(value: str | None) -> str | None:
    """`$text` -> `text`; a literal value or none -> None."""
    if value and value.startswith("$") and len(value) > 1:
        return value[1:]
    return None


def _choice_value(el: object) -> str | None:
    get = getattr(el, "get", None)
    if get is None:
        return None
    alias = get("alias")
    value = get("value")
    return str(alias) if alias else (str(value) if value is not None else None)


def _taxonomy_paths(el: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for child in el:  # type: ignore[attr-defined]
        if not isinstance(child.tag, str) or child.tag.lower() != "choice":
            continue
        value = _choice_value(child)
        if value is None:
            continue
        path = (*prefix, value)
        paths.append(path)
        paths.extend(_taxonomy_paths(child, path))
    return paths


def parse_label_config_text(xml: bytes, file: str) -> LabelConfig:
    """Parse the XML text of a labeling config; ConfigError naming `file` when it is not one."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as err:
        raise ConfigError(f"{file}: the label config is not well-formed XML: {err}") from err
    tree = root.getroottree()
    if getattr(tree.docinfo, "doctype", "") or tree.docinfo.internalDTD is not None:
        raise ConfigError(f"{file}: the label config has a DOCTYPE; remove it")
    if not isinstance(root.tag, str) or root.tag.lower() != "view":
        raise ConfigError(
            f"{file}: a Label Studio label config starts with <View>, not <{root.tag}>"
        )
    controls: dict[str, Control] = {}
    objects: dict[str, DataObject] = {}
    relation_labels: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag == "relations":
            relation_labels.extend(
                v for r in el if isinstance(r.tag, str) and (v := _choice_value(r)) is not None
            )
            continue
        name = el.get("name")
        if not name:
            continue
        to_name = el.get("toName")
        if to_name is None and tag in OBJECT_TAGS:
            attrs = {str(k): str(v) for k, v in el.attrib.items()}
            objects[name] = DataObject(name, tag, _data_key(el.get("value")), attrs)
            continue
        if to_name is None:
            continue
        paths: list[tuple[str, ...]] = []
        if tag == "taxonomy":
            paths = _taxonomy_paths(el)
            labels = tuple(p[-1] for p in paths)
        else:
            labels = tuple(
                v
                for child in el.iter()
                if child is not el
                and isinstance(child.tag, str)
                and child.tag.lower() in ("label", "choice")
                and (v := _choice_value(child)) is not None
            )
        controls[name] = Control(
            name=name,
            type=tag,
            to_name=tuple(t.strip() for t in to_name.split(",") if t.strip()),
            labels=labels,
            per_region=(el.get("perRegion") or "").lower() == "true",
            value_key=_data_key(el.get("value")),
            taxonomy_paths=frozenset(paths),
        )
    config = LabelConfig(file, controls, objects, tuple(relation_labels))
    declared = config.declared_labels()
    if declared:
        config.task_fields["__labels__"] = declared
    config.task_fields["__controls__"] = config.control_types()
    config.task_fields["__targets__"] = config.targets()
    return config


def parse_label_config(path: str | Path) -> LabelConfig:
    """Read and parse a labeling config file (`--label-config config.xml`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the label config: {err.strerror}") from err
    return parse_label_config_text(data, str(p))
