"""The Hugging Face TRL dialect: `messages` with `{"type": "image"}` placeholders + `images`.

Text-only examples use TRL's conversational shape with string `content`. Multimodal examples
use content lists for every message (`{"type": "text", "text": ...}` and `{"type": "image"}`)
and an `images` list holding one entry per placeholder, in order. Preference examples use
TRL's conversational preference shape `{"prompt": [...], "chosen": [...], "rejected": [...]}`
(plus `images` when multimodal).

How images are stored, and why (checked with datasets 5.2 / fsspec 2026.9 in this project's venv,
see tests/test_dialect_trl.py):
- `datasets.load_dataset("json", ...)` reads `images` as a list of strings. Casting the column
  with `ds.cast_column("images", datasets.List(datasets.Image()))` turns each string into an
  image: a path (absolute, or relative to the *working directory*), an http(s) URL, or a
  `data:image/...;base64,` URL (fsspec's `data` filesystem decodes it).
- The Arrow form `{"bytes": ..., "path": ...}` does not survive JSON: `bytes` becomes a string
  column and the Image feature hands the Base64 text to Pillow as raw bytes, which fails.
So: embed mode writes data URLs (self-contained, the same string column as paths); reference
mode writes the reference; `--copy-images DIR` writes the image files to DIR and lists
`DIR/<name>` (relative when DIR is relative, so run training from the same folder).

TRL has no per-message weight: context-only assistant turns (`weight: 0`) are written as
ordinary assistant turns (TRL's `assistant_only_loss` trains every assistant turn).
"""

from __future__ import annotations

from typing import Any

import orjson

from annoconvert.model import Example, ImagePart, Message, PreparedImage, TextPart
from annoconvert.options import Options
from annoconvert.writers.images import copy_image, data_url, image_reference


def image_entry(image: PreparedImage, options: Options) -> str:
    """The `images` entry of one image: a copied file's path, a data URL, or the reference."""
    if options.copy_images:
        return copy_image(image, options.copy_images)
    if image.data is not None:
        return data_url(image)
    return image_reference(image)


def message_json(
    message: Message, multimodal: bool, images: list[str], options: Options
) -> dict[str, Any]:
    """One message; its images are appended to `images` in placeholder order."""
    content: Any
    if multimodal:
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                parts.append({"type": "image"})
                images.append(image_entry(part.image, options))
        content = parts
    else:
        content = message.text
    return {"role": message.role, "content": content}


def example_json(example: Example, options: Options) -> dict[str, Any]:
    """The JSON object of one example (before serialization)."""
    mm = example.multimodal
    images: list[str] = []
    messages = [message_json(m, mm, images, options) for m in example.messages]
    out: dict[str, Any]
    if example.preferred is not None and example.non_preferred is not None:
        out = {
            "prompt": messages,
            "chosen": [message_json(m, mm, images, options) for m in example.preferred],
            "rejected": [message_json(m, mm, images, options) for m in example.non_preferred],
        }
    else:
        out = {"messages": messages}
    if mm:
        out["images"] = images
    return out


class TRLDialect:
    """Renders examples for Hugging Face TRL (SFTTrainer, DPOTrainer) and `datasets`."""

    name = "trl"
    summary = "Hugging Face TRL JSONL: messages with image placeholders plus an images list"
    preset = "trl"

    def render(self, example: Example, options: Options) -> bytes:
        """One compact JSON line (UTF-8, non-ASCII kept as is)."""
        return orjson.dumps(example_json(example, options))


DIALECT = TRLDialect()
