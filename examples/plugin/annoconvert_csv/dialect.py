"""The `alpaca` dialect: `{"instruction", "input", "output"}`, the Stanford Alpaca record shape.

Text-only: an example with images is refused with a `RecipeError` (the pipeline rejects that
task with the code `unsupported_by_dialect`), as Alpaca records have no image column.
"""

from __future__ import annotations

import json

from annoconvert.errors import RecipeError
from annoconvert.model import Example, ImagePart
from annoconvert.options import Options


class Alpaca:
    """Renders system / user / assistant as instruction / input / output."""

    name = "alpaca"
    summary = "Alpaca records: instruction, input, output (text only)"
    preset = "openai"

    def render(self, example: Example, options: Options) -> bytes:
        """One JSON object; the system text is the instruction, the last answer the output."""
        if any(isinstance(p, ImagePart) for m in example.messages for p in m.parts):
            raise RecipeError("unsupported_by_dialect", "alpaca records hold text only")
        by_role = {m.role: m.text for m in example.messages}
        record = {
            "instruction": by_role.get("system", ""),
            "input": by_role.get("user", ""),
            "output": by_role.get("assistant", ""),
        }
        return json.dumps(record, ensure_ascii=False).encode("utf-8")


DIALECT = Alpaca()
