"""The LLaMA-Factory sharegpt dialect: `conversations` of `{"from", "value"}` + `system` + `images`.

Shape as LLaMA-Factory's data/README.md documents it (hiyouga/LLaMA-Factory, "Sharegpt Format"):
`{"conversations": [{"from": "human", "value": "...<image>..."}, {"from": "gpt", "value": ...}],
"system": "...", "images": [...]}`; human turns at odd positions, gpt at even ones; the
multimodal columns are "similar to the alpaca format": an `images` column of image paths, one
`<image>` token in the text per entry, in order. Preference lines end `conversations` with the
human turn and add `"chosen": {"from": "gpt", ...}` and `"rejected": {...}` (README "Preference
Dataset"); register them with `dataset_info_entry(name, file, ranking=True)`.

Every line carries `system` and `images` (empty when there is none) so that one
`dataset_info.json` entry fits every file this dialect writes: LLaMA-Factory reads a declared
column from every row, and an empty system falls back to the template's default.

Images: LLaMA-Factory opens a string entry with `Image.open(path)` (relative paths are resolved
against its `dataset_dir`), so entries must be files: reference mode writes the reference;
embed mode needs `--copy-images DIR` (the images are written there and listed as `DIR/<name>`).
Embed mode without it is a configuration error, raised at the first image.

A text part and an image token next to each other are separated by a newline
(`"Describe the part.\\n<image>"`); a literal `<image>` in the text is rejected
(`image_token_in_text`) because LLaMA-Factory would count it as an image.
LLaMA-Factory has no per-message weight: `weight: 0` turns are written as ordinary gpt turns
(its `mask_history` option trains only the last turn).
"""

from __future__ import annotations

from typing import Any

import orjson

from annoconvert.errors import ConfigError, RecipeError
from annoconvert.model import Example, ImagePart, Message, PreparedImage, TextPart
from annoconvert.options import Options
from annoconvert.writers.images import copy_image, image_reference

IMAGE_TOKEN = "<image>"
SPEAKERS = {"user": "human", "assistant": "gpt"}


def dataset_info_entry(name: str, file: str, *, ranking: bool = False) -> dict[str, dict[str, Any]]:
    """The `dataset_info.json` entry that registers a file this dialect wrote.

    Returns `{name: {...}}`: merge it into LLaMA-Factory's `data/dataset_info.json` and put the
    JSONL file in the same folder (`file` is its name relative to that folder).
    """
    columns: dict[str, str] = {"messages": "conversations", "system": "system", "images": "images"}
    if ranking:
        columns.update({"chosen": "chosen", "rejected": "rejected"})
    entry: dict[str, Any] = {"file_name": file, "formatting": "sharegpt"}
    if ranking:
        entry["ranking"] = True
    entry["columns"] = columns
    return {name: entry}


def image_entry(image: PreparedImage, options: Options) -> str:
    """An `images` entry: a copied file's path or the reference (never inline data)."""
    if options.copy_images:
        return copy_image(image, options.copy_images)
    if image.data is not None:
        raise ConfigError(
            "the sharegpt dialect lists images as files (LLaMA-Factory opens them by path): "
            "use --image-mode reference, or --copy-images DIR to write the embedded images there"
        )
    return image_reference(image)


def value_text(message: Message, images: list[str], options: Options) -> str:
    """A message's parts as one string, with one `<image>` token per image (appended to images)."""
    pieces: list[tuple[bool, str]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if IMAGE_TOKEN in part.text:
                raise RecipeError(
                    "image_token_in_text",
                    f"the text contains {IMAGE_TOKEN!r}, which LLaMA-Factory reads as an image",
                )
            pieces.append((False, part.text))
        elif isinstance(part, ImagePart):
            images.append(image_entry(part.image, options))
            pieces.append((True, IMAGE_TOKEN))
    out = ""
    previous_is_image: bool | None = None
    for is_image, text in pieces:
        switches = previous_is_image is not None and is_image != previous_is_image
        if switches and out and not out[-1].isspace() and not text[:1].isspace():
            out += "\n"
        out += text
        previous_is_image = is_image
    return out


def _turn(message: Message, images: list[str], options: Options) -> dict[str, str]:
    if message.role not in SPEAKERS:
        raise RecipeError(
            "unsupported_by_dialect",
            "sharegpt takes one system prompt before the conversation; this example has a "
            "system message after a human or gpt turn",
        )
    return {"from": SPEAKERS[message.role], "value": value_text(message, images, options)}


def _single(messages: tuple[Message, ...], what: str) -> Message:
    if len(messages) != 1:
        raise RecipeError(
            "unsupported_by_dialect",
            f"a sharegpt preference answer is one gpt message; the {what} answer has "
            f"{len(messages)}",
        )
    return messages[0]


def example_json(example: Example, options: Options) -> dict[str, Any]:
    """The JSON object of one example (before serialization)."""
    images: list[str] = []
    index = 0
    system_parts: list[str] = []
    while index < len(example.messages) and example.messages[index].role == "system":
        system_parts.append(value_text(example.messages[index], images, options))
        index += 1
    conversations = [_turn(m, images, options) for m in example.messages[index:]]
    out: dict[str, Any] = {"conversations": conversations}
    if example.preferred is not None and example.non_preferred is not None:
        out["chosen"] = _turn(_single(example.preferred, "preferred"), images, options)
        out["rejected"] = _turn(_single(example.non_preferred, "non-preferred"), images, options)
    out["system"] = "\n".join(system_parts)
    out["images"] = images
    return out


class ShareGPTDialect:
    """Renders examples for LLaMA-Factory's sharegpt format."""

    name = "sharegpt"
    summary = "LLaMA-Factory sharegpt JSONL: conversations (human/gpt), system, images"
    preset = "sharegpt"

    def render(self, example: Example, options: Options) -> bytes:
        """One compact JSON line (UTF-8, non-ASCII kept as is)."""
        return orjson.dumps(example_json(example, options))


DIALECT = ShareGPTDialect()
