"""The OpenAI chat fine-tuning dialect: `{"messages": [...]}`, one JSON object per line.

Text-only examples use string `content`; multimodal examples use content-part lists for every
message, as the service's guide shows. Preference examples use the DPO shape
`{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}`.
"""

from __future__ import annotations

from typing import Any

import orjson

from annoconvert.model import Example, ImagePart, Message, TextPart
from annoconvert.options import Options
from annoconvert.writers.images import image_url


def message_json(message: Message, multimodal: bool, options: Options) -> dict[str, Any]:
    """One message as the OpenAI API spells it."""
    content: Any
    if multimodal:
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                url: dict[str, Any] = {"url": image_url(part.image, options)}
                if options.image_detail:
                    url["detail"] = options.image_detail
                parts.append({"type": "image_url", "image_url": url})
        content = parts
    else:
        content = message.text
    out: dict[str, Any] = {"role": message.role, "content": content}
    if message.weight is not None and message.role == "assistant":
        out["weight"] = message.weight
    return out


def example_json(example: Example, options: Options) -> dict[str, Any]:
    """The JSON object of one example (before serialization)."""
    mm = example.multimodal
    messages = [message_json(m, mm, options) for m in example.messages]
    if example.preferred is not None and example.non_preferred is not None:
        return {
            "input": {"messages": messages},
            "preferred_output": [message_json(m, mm, options) for m in example.preferred],
            "non_preferred_output": [message_json(m, mm, options) for m in example.non_preferred],
        }
    return {"messages": messages}


class OpenAIDialect:
    """Renders examples for OpenAI, Azure OpenAI, Together and Fireworks chat fine-tuning."""

    name = "openai"
    summary = "OpenAI chat fine-tuning JSONL: messages with roles; images as data URLs"
    preset = "openai"

    def render(self, example: Example, options: Options) -> bytes:
        """One compact JSON line (UTF-8, non-ASCII kept as is)."""
        return orjson.dumps(example_json(example, options))


DIALECT = OpenAIDialect()
