"""Preview: render examples as self-contained HTML (full page in `annoconvert preview`)."""

from __future__ import annotations

import html

from annoconvert.model import Example


def example_html(example: Example) -> str:
    """One example as an HTML fragment: each message's role and text."""
    rows = "".join(
        f"<div class='msg {m.role}'><b>{m.role}</b><pre>{html.escape(m.text)}</pre></div>"
        for m in example.messages
    )
    return f"<div class='example' data-task='{html.escape(str(example.task_id))}'>{rows}</div>"
