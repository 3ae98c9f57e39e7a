"""One options model behind the command line, the TOML config and the Python API.

Every field is a long option name with `-` written as `_` (`--box-format` is `box_format`).
Precedence (lowest first): defaults, the `--config` TOML file, explicit options.
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from annoconvert.errors import ConfigError

ImageMode = Literal["embed", "reference", "placeholder"]
ImageFormat = Literal["keep", "jpeg", "png", "webp"]
BoxFormat = Literal["box_2d", "qwen2.5-vl", "qwen3-vl", "xyxy-px", "xywh-px"]
AnnotatorPolicy = Literal["latest", "ground-truth", "majority", "all", "agreed"]
Preset = Literal["openai", "together", "fireworks", "azure", "vertex", "trl", "sharegpt"]

TEMPLATE_OPTIONS = ("system", "prompt", "answer_template")
BUILTIN_PLACEHOLDERS = frozenset({"text", "label", "labels", "image", "images", "id"})


class Options(BaseModel):
    """Every conversion option; see `annoconvert formats --json` and docs/cli.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # recipe and templates
    recipe: str = "auto"
    system: str | None = None
    prompt: str | None = None
    answer_template: str | None = None
    labels: dict[str, str] = Field(default_factory=dict, description="label renames old -> new")
    field_order: tuple[str, ...] | None = None
    ner_format: Literal["grouped", "list"] = "grouped"
    multilabel_format: Literal["joined", "json"] = "joined"
    user_speaker: str | None = None
    train_on: Literal["last", "all"] = "last"
    # images
    images_root: tuple[str, ...] = ()
    image_mode: ImageMode = "embed"
    image_uri_prefix: str | None = None
    max_image_side: int | None = Field(default=None, ge=1)
    image_format: ImageFormat = "keep"
    jpeg_quality: int = Field(default=90, ge=1, le=100)
    image_detail: Literal["low", "high", "auto"] | None = None
    fetch_remote: bool = False
    copy_images: str | None = None
    box_format: BoxFormat = "box_2d"
    box_order: Literal["reading", "source"] = "reading"
    qwen_min_pixels: int = 56 * 56
    qwen_max_pixels: int = 28 * 28 * 1280
    # annotators and quality
    annotators: AnnotatorPolicy = "latest"
    conflicts: Literal["report", "drop", "keep"] = "report"
    dedupe: bool = False
    validate_output: bool = True
    # output
    dialect: str = "openai"
    preset: Preset | None = None
    split: str | None = None
    seed: int = 0
    rejects: str | None = None
    on_error: Literal["skip", "fail"] = "skip"
    max_errors: int | None = Field(default=None, ge=1)
    workers: int | None = Field(default=None, ge=1)
    quiet: bool = False
    shard_size: int | None = Field(default=None, ge=1)
    # reader-specific
    label_config: str | None = None
    project_type: str | None = None
    offsets: Literal["auto", "codepoint", "utf16"] = "auto"
    targets: Literal["all", "first"] = "all"
    reader_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator(*TEMPLATE_OPTIONS)
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        if value is not None:
            template_fields(value)
        return value

    @property
    def asks_pixel_work(self) -> bool:
        """Whether embedded images may be decoded and encoded again (`--max-image-side`,
        `--image-format`): the run's images then cost milliseconds each, not microseconds."""
        return self.image_mode == "embed" and (
            self.max_image_side is not None or self.image_format != "keep"
        )

    @property
    def effective_preset(self) -> str:
        """The preset: given, else the one the dialect declares (plugins included)."""
        if self.preset:
            return self.preset
        from annoconvert import registry

        return registry.dialect(self.dialect).preset


def template_fields(template: str) -> list[str]:
    """The placeholder names a format-string template uses; ConfigError when it does not parse."""
    names: list[str] = []
    try:
        for _, name, spec, conv in string.Formatter().parse(template):
            if name is None:
                continue
            if conv not in (None, "r", "s", "a"):
                raise ConfigError(
                    f"template {template!r}: unknown conversion '!{conv}' (use !r, !s or !a)"
                )
            if name == "" or name.isdigit():
                raise ConfigError(
                    f"template {template!r} has a positional placeholder '{{}}'; "
                    "name the field, e.g. '{text}', or write '{{' for a brace"
                )
            root = name.split(".", 1)[0].split("[", 1)[0]
            names.append(root)
            if spec and "{" in spec:
                raise ConfigError(f"template {template!r}: nested placeholders are not supported")
    except ValueError as err:
        raise ConfigError(f"template {template!r} does not parse: {err}") from err
    return names


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML recipe file into option values; its keys are option long names."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"{p}: config file not found") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: not a valid TOML file: {err}") from err
    values: dict[str, Any] = {}
    for key, value in raw.items():
        values[key.replace("-", "_")] = value
    return values


def build_options(config: str | Path | None = None, **given: Any) -> Options:
    """Merge defaults, the TOML config and the given options (None means 'not given')."""
    values: dict[str, Any] = {}
    if config is not None:
        values.update(load_config(config))
    for key, value in given.items():
        if value is None or (isinstance(value, tuple | list) and not value and key in values):
            continue
        values[key] = value
    for key in ("images_root", "field_order"):
        if isinstance(values.get(key), str):
            values[key] = (values[key],)
    try:
        return Options(**values)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "options"
        source = f"{config}: " if config else ""
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown option"
        raise ConfigError(f"{source}option {loc.replace('_', '-')}: {msg}") from err
