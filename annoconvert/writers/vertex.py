"""The Vertex AI Gemini tuning dialect: `systemInstruction` + `contents` (roles user/model).

Supervised lines follow Google's "Prepare supervised fine-tuning data for Gemini models":
`{"systemInstruction": {"parts": [{"text"}]},
"contents": [{"role": "user"|"model", "parts": [...]}]}`.

Images:
- embed mode (the default) writes `{"inlineData": {"mimeType", "data"}}` with raw Base64 (no
  `data:` prefix). Google documents `fileData` for tuning; `inlineData` is the API's inline form.
- with `--image-uri-prefix gs://bucket/path/` every image becomes
  `{"fileData": {"mimeType", "fileUri": prefix + name}}`; in reference mode an image whose URI
  already starts with the prefix keeps it. With `--copy-images DIR` the image files are copied to
  `DIR/<name>` so that `gsutil cp -r DIR/* gs://bucket/path/` uploads exactly the names written.
  Two different images with the same name fail (`image_name_clash`) instead of overwriting.
- reference mode without a prefix writes `fileData` with the URI as the export wrote it when
  it is a URL (`gs://`, `https://`); a bare path is a configuration error (give a prefix).

Preference examples use Google's preference-tuning shape (text only, one model turn each):
`{"system_instruction", "contents" (ending with a user turn), "completions": [{"score": 1,
"completion": {...}}, {"score": 0, "completion": {...}}]}`; multimodal preference examples are
rejected (`unsupported_by_dialect`): Vertex preference tuning takes text only.

Vertex has no per-message weight: context-only assistant turns (`weight: 0`) are written as
ordinary model turns.
"""

from __future__ import annotations

import mimetypes
from typing import Any

import orjson

from annoconvert.errors import ConfigError, RecipeError
from annoconvert.model import Example, ImagePart, Message, PreparedImage, TextPart
from annoconvert.options import Options
from annoconvert.writers.images import base64_data, copy_image, image_reference, uploaded_name

ROLES = {"user": "user", "assistant": "model"}


def mime_type(image: PreparedImage) -> str:
    """The image's MIME type: as prepared, else guessed from its name, else JPEG."""
    if image.mime:
        return image.mime
    guessed, _ = mimetypes.guess_type(image.name)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


def image_part(image: PreparedImage, options: Options) -> dict[str, Any]:
    """One image as a Vertex part: `fileData` under a URI prefix or by reference, else inline."""
    prefix = options.image_uri_prefix
    if prefix:
        if image.uri and image.uri.startswith(prefix):
            uri = image.uri
        else:
            uri = prefix.rstrip("/") + "/" + uploaded_name(image)
        if options.copy_images:
            copy_image(image, options.copy_images)
        return {"fileData": {"mimeType": mime_type(image), "fileUri": uri}}
    if image.data is None:
        reference = image_reference(image)
        if "://" not in reference:
            raise ConfigError(
                f"Vertex needs a gs:// or https:// URI for image {reference!r}: give "
                "--image-uri-prefix gs://bucket/path/ (and --copy-images DIR to gather the files)"
            )
        return {"fileData": {"mimeType": mime_type(image), "fileUri": reference}}
    return {"inlineData": {"mimeType": mime_type(image), "data": base64_data(image)}}


def parts_json(message: Message, options: Options) -> list[dict[str, Any]]:
    """A message's parts in order: `{"text"}` and image parts."""
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(image_part(part.image, options))
    return parts


def _split_system(messages: tuple[Message, ...]) -> tuple[list[Message], list[Message]]:
    """Leading system messages (the system instruction) and the rest."""
    index = 0
    while index < len(messages) and messages[index].role == "system":
        index += 1
    rest = list(messages[index:])
    if any(m.role == "system" for m in rest):
        raise RecipeError(
            "unsupported_by_dialect",
            "Vertex takes one system instruction before the conversation; this example has a "
            "system message after a user or model turn",
        )
    return list(messages[:index]), rest


def _content(message: Message, options: Options) -> dict[str, Any]:
    return {"role": ROLES[message.role], "parts": parts_json(message, options)}


def _preference_json(
    example: Example,
    preferred: tuple[Message, ...],
    non_preferred: tuple[Message, ...],
    system: list[Message],
    rest: list[Message],
    options: Options,
) -> dict[str, Any]:
    if example.multimodal:
        raise RecipeError(
            "unsupported_by_dialect",
            "Vertex preference tuning takes text only; write this image preference example "
            "with --dialect openai or --dialect trl",
        )
    if len(preferred) != 1 or len(non_preferred) != 1:
        raise RecipeError(
            "unsupported_by_dialect",
            "a Vertex preference completion is a single model turn; this example has "
            f"{len(preferred)} preferred and {len(non_preferred)} "
            "non-preferred messages",
        )
    out: dict[str, Any] = {}
    if system:
        out["system_instruction"] = {"parts": [p for m in system for p in parts_json(m, options)]}
    out["contents"] = [_content(m, options) for m in rest]
    out["completions"] = [
        {"score": 1, "completion": _content(preferred[0], options)},
        {"score": 0, "completion": _content(non_preferred[0], options)},
    ]
    return out


def example_json(example: Example, options: Options) -> dict[str, Any]:
    """The JSON object of one example (before serialization)."""
    system, rest = _split_system(example.messages)
    if example.preferred is not None and example.non_preferred is not None:
        return _preference_json(
            example, example.preferred, example.non_preferred, system, rest, options
        )
    out: dict[str, Any] = {}
    if system:
        out["systemInstruction"] = {"parts": [p for m in system for p in parts_json(m, options)]}
    out["contents"] = [_content(m, options) for m in rest]
    return out


class VertexDialect:
    """Renders examples for Vertex AI Gemini supervised (and text preference) tuning."""

    name = "vertex"
    summary = "Vertex AI Gemini tuning JSONL: systemInstruction + contents (user/model parts)"
    preset = "vertex"

    def render(self, example: Example, options: Options) -> bytes:
        """One compact JSON line (UTF-8, non-ASCII kept as is)."""
        return orjson.dumps(example_json(example, options))


DIALECT = VertexDialect()
