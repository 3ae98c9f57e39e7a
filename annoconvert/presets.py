"""Each target's limits in one table: image size and count, image types, dataset size, tokens.

Media preparation reads the image limits while writing; `validate` checks a finished file
against the same numbers. Sources: DESIGN.md section 4 (the providers' fine-tuning docs).
"""

from __future__ import annotations

from dataclasses import dataclass

from annoconvert.errors import ConfigError

MB = 1000 * 1000
"""Providers say "10 MB"; the decimal megabyte is the stricter reading, so we use it."""


@dataclass(frozen=True)
class PresetLimits:
    """What one target accepts. None means the target sets no limit."""

    name: str
    max_image_bytes: int | None
    max_images_per_example: int | None
    mime_types: tuple[str, ...]
    min_examples: int
    max_tokens: int | None
    max_image_examples: int | None = None
    image_modes: tuple[str, ...] = ("RGB", "RGBA")
    data_urls: bool = True


_WEB = ("image/jpeg", "image/png", "image/webp")

PRESETS: dict[str, PresetLimits] = {
    "openai": PresetLimits("openai", 10 * MB, 10, _WEB, 10, 65_536, 50_000),
    "together": PresetLimits("together", 10 * MB, 10, _WEB, 1, None),
    "fireworks": PresetLimits("fireworks", 10 * MB, 10, ("image/jpeg", "image/png"), 3, None),
    "azure": PresetLimits("azure", 10 * MB, 64, _WEB, 10, 65_536, 50_000),
    "vertex": PresetLimits("vertex", 20 * MB, 30, (*_WEB, "image/heic", "image/heif"), 1, 131_072),
    "trl": PresetLimits("trl", None, None, _WEB, 1, None, data_urls=False),
    "sharegpt": PresetLimits("sharegpt", None, None, _WEB, 1, None, data_urls=False),
}


def limits(name: str) -> PresetLimits:
    """The limits of a preset by name; ConfigError for an unknown name."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
