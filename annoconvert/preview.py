"""Preview: examples as self-contained HTML, with the answer's boxes drawn back onto the image.

`build_page` turns the lines of a JSONL file (OpenAI chat or DPO, Vertex, TRL or sharegpt
dialect) into one HTML page: no external URL, a Content-Security-Policy that forbids every
network request, the CSS and JS of `preview_assets/` inlined, and the examples as JSON data the
script pages through (20 per page) and filters by label. Each image is stored once in the data
(identical images are shared) and put into an `<img>` only when its page is shown.

`example_html` renders one `Example` the same way for notebooks (`Example._repr_html_`).

Boxes come from the assistant answer (the preferred one for preference lines), parsed in the
chosen box format with `annoconvert.boxes.decode_box`, and are drawn as absolutely positioned
divs in percent of the image, so they follow the image at any displayed size. Limits: boxes are
drawn only when the example holds exactly one image; `qwen2.5-vl` pixels are read against the
smart-resize of the embedded image with the default min/max pixels (pass others to
`parse_boxes` if the model was trained with other values); pixel formats need the image's size,
read from its header, so a reference the preview cannot read gets no boxes.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import io
import json
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pybase64

from annoconvert.boxes import BOX_KEYS, decode_box
from annoconvert.model import Example, ImagePart, Message, TextPart
from annoconvert.writers.images import data_url, image_reference

PER_PAGE = 20
PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#008080",
    "#f032e6",
    "#9a6324",
    "#800000",
    "#808000",
    "#000075",
    "#469990",
)
"""Label colours (a subset of Sasha Trubetskoy's 20 distinct colours), by label order."""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_DATA_URL = re.compile(r"^data:([^;,]*)(?:;[^,]*)?,", re.IGNORECASE)


@dataclass
class ViewImage:
    """An image of the view: a data URL when it can be shown, else a note why not."""

    ref: str
    src: str | None = None
    width: int | None = None
    height: int | None = None
    key: int | None = None


@dataclass
class DrawBox:
    """A box to draw: label and normalized corners of the image."""

    label: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class ViewMessage:
    """One message as shown: role, a caption such as 'preferred', text and images in order."""

    role: str
    parts: list[str | ViewImage]
    caption: str = ""


@dataclass
class View:
    """One example as shown."""

    title: str
    messages: list[ViewMessage]
    answer: str | None = None
    boxes: list[DrawBox] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def images(self) -> list[ViewImage]:
        """Every image of the example, in order."""
        return [p for m in self.messages for p in m.parts if isinstance(p, ViewImage)]


# --- images ----------------------------------------------------------------------------------


def _probe(data: bytes) -> tuple[str, tuple[int, int]] | str:
    """(MIME type, size) from the image header (Pillow, no full decode), or why the page does
    not show the image: a browser would decode a decompression bomb in full."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return Image.MIME.get(img.format or "", "image/png"), img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return f"more than {Image.MAX_IMAGE_PIXELS} pixels, not shown"
    except (UnidentifiedImageError, OSError, ValueError):
        return "not an image"


def _from_data_url(url: str) -> ViewImage:
    match = _DATA_URL.match(url)
    if match is None or ";base64" not in url[: match.end()].lower():
        return ViewImage(ref="data URL (not Base64)")
    try:
        data = pybase64.b64decode(url[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        return ViewImage(ref="data URL with invalid Base64")
    probed = _probe(data)
    kind = match.group(1) or "image"
    if isinstance(probed, str):
        return ViewImage(ref=f"{kind} ({probed})")
    size = probed[1]
    return ViewImage(ref=kind, src=url, width=size[0], height=size[1])


def _from_bytes(data: bytes, ref: str) -> ViewImage:
    probed = _probe(data)
    if isinstance(probed, str):
        return ViewImage(ref=f"{ref} ({probed})")
    mime, size = probed
    src = f"data:{mime};base64,{pybase64.b64encode(data).decode('ascii')}"
    return ViewImage(ref=ref, src=src, width=size[0], height=size[1])


def resolve_image(ref: str, base_dirs: Sequence[Path]) -> ViewImage:
    """A line's image entry as a view image: data URLs as they are, local files read in."""
    if ref.startswith("data:"):
        return _from_data_url(ref)
    if "://" in ref:
        name = ref.rstrip("/").rsplit("/", 1)[-1]
        return ViewImage(ref=f"remote image {name} (not embedded; the page loads nothing)")
    for base in base_dirs:
        path = base / ref
        if path.is_file():
            return _from_bytes(path.read_bytes(), ref)
    return ViewImage(ref=f"{ref} (file not found)")


# --- boxes -----------------------------------------------------------------------------------


def _answer_objects(answer: str) -> list[dict[str, Any]]:
    """Dicts in the assistant answer's JSON (a list of objects, or one object), else []."""
    text = answer.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except ValueError:
        return []
    if isinstance(value, dict):
        value = [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_boxes(
    answer: str,
    box_format: str,
    width: int | None,
    height: int | None,
    *,
    qwen_min_pixels: int = 56 * 56,
    qwen_max_pixels: int = 28 * 28 * 1280,
) -> tuple[list[DrawBox], list[str]]:
    """The boxes of an answer in `box_format` as normalized rectangles, and notes on problems."""
    key = BOX_KEYS[box_format]
    boxes: list[DrawBox] = []
    notes: list[str] = []
    pixel_format = box_format not in ("box_2d", "qwen3-vl")
    for i, obj in enumerate(_answer_objects(answer)):
        values = obj.get(key)
        if values is None:
            continue
        label = str(obj.get("label", ""))
        if (
            not isinstance(values, list)
            or len(values) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        ):
            notes.append(f"answer[{i}].{key} is not 4 numbers")
            continue
        if pixel_format and not (width and height):
            notes.append(f"{box_format} boxes need the image size, which is unknown")
            break
        x0, y0, x1, y1 = decode_box(
            box_format,
            values,
            width or 0,
            height or 0,
            qwen_min_pixels=qwen_min_pixels,
            qwen_max_pixels=qwen_max_pixels,
        )
        if not (x0 < x1 and y0 < y1):
            notes.append(f"answer[{i}].{key} has min >= max")
            continue
        boxes.append(DrawBox(label, x0, y0, x1, y1))
    if not boxes and not notes:
        other = {
            k for obj in _answer_objects(answer) for k in ("box_2d", "bbox_2d", "bbox") if k in obj
        }
        if other - {key}:
            notes.append(
                f"the answer has {', '.join(sorted(other))} boxes; choose --box-format to draw them"
            )
    return boxes, notes


def answer_labels(answer: str | None, boxes: Sequence[DrawBox]) -> list[str]:
    """What the label filter offers for an example: box labels, JSON labels, or a short answer."""
    if answer is None:
        return []
    labels = [b.label for b in boxes if b.label]
    labels += [str(o["label"]) for o in _answer_objects(answer) if isinstance(o.get("label"), str)]
    if not labels and not _answer_objects(answer):
        short = answer.strip()
        if short and len(short) <= 60 and "\n" not in short:
            labels.append(short)
    return list(dict.fromkeys(labels))


def finish_view(view: View, box_format: str) -> View:
    """Parse the answer's boxes (one-image examples) and the filter labels."""
    images = view.images
    if view.answer is not None:
        if len(images) == 1:
            img = images[0]
            boxes, notes = parse_boxes(view.answer, box_format, img.width, img.height)
            view.boxes = boxes
            view.notes.extend(notes)
        elif len(images) > 1 and _answer_objects(view.answer):
            view.notes.append(f"{len(images)} images: boxes are drawn for one-image examples only")
    view.labels = answer_labels(view.answer, view.boxes)
    return view


# --- Example -> view ---------------------------------------------------------------------------


def _message_view(message: Message, caption: str = "") -> ViewMessage:
    parts: list[str | ViewImage] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append(part.text)
        elif isinstance(part, ImagePart):
            img = part.image
            if img.data is not None:
                parts.append(
                    ViewImage(ref=img.name, src=data_url(img), width=img.width, height=img.height)
                )
            else:
                view = resolve_image(image_reference(img), [Path.cwd()])
                view.width, view.height = view.width or img.width, view.height or img.height
                parts.append(view)
    return ViewMessage(message.role, parts, caption)


def view_from_example(example: Example, box_format: str = "box_2d") -> View:
    """An Example as a view (images from its prepared bytes)."""
    messages = [_message_view(m) for m in example.messages]
    answer: str | None = None
    if example.preferred is not None and example.non_preferred is not None:
        messages += [_message_view(m, "preferred") for m in example.preferred]
        messages += [_message_view(m, "not preferred") for m in example.non_preferred]
        answer = "".join(m.text for m in example.preferred)
    else:
        assistants = [m for m in example.messages if m.role == "assistant"]
        answer = assistants[-1].text if assistants else None
    view = View(title=f"task {example.task_id}", messages=messages, answer=answer)
    return finish_view(view, box_format)


# --- JSONL line -> view ------------------------------------------------------------------------


def _openai_message(message: Any, base_dirs: Sequence[Path], caption: str = "") -> ViewMessage:
    if not isinstance(message, dict):
        return ViewMessage("?", [repr(message)], caption)
    content = message.get("content")
    parts: list[str | ViewImage] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                parts.append(resolve_image(str(url), base_dirs))
    if message.get("weight") == 0:
        caption = (caption + " weight 0").strip()
    return ViewMessage(str(message.get("role", "?")), parts, caption)


def _text_of(message: ViewMessage) -> str:
    return "".join(p for p in message.parts if isinstance(p, str))


def _last_assistant(messages: Sequence[ViewMessage], *roles: str) -> str | None:
    answers = [m for m in messages if m.role in roles]
    return _text_of(answers[-1]) if answers else None


def _items(value: Any) -> list[Any]:
    """A list from the line, or nothing to show (a line can hold any JSON where a list
    belongs: the page shows what there is, and the validator says what is wrong)."""
    return value if isinstance(value, list) else []


def _from_openai(obj: dict[str, Any], base_dirs: Sequence[Path]) -> View:
    if "input" in obj:
        raw = obj["input"].get("messages") if isinstance(obj["input"], dict) else []
        messages = [_openai_message(m, base_dirs) for m in _items(raw)]
        preferred = [
            _openai_message(m, base_dirs, "preferred") for m in _items(obj.get("preferred_output"))
        ]
        other = [
            _openai_message(m, base_dirs, "not preferred")
            for m in _items(obj.get("non_preferred_output"))
        ]
        return View("", messages + preferred + other, _last_assistant(preferred, "assistant"))
    messages = [_openai_message(m, base_dirs) for m in _items(obj.get("messages"))]
    return View("", messages, _last_assistant(messages, "assistant"))


def _trl_messages(raw: Any, images: list[ViewImage], caption: str = "") -> list[ViewMessage]:
    out: list[ViewMessage] = []
    for message in raw if isinstance(raw, list) else []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        parts: list[str | ViewImage] = []
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image":
                    parts.append(images.pop(0) if images else ViewImage(ref="missing image entry"))
                elif isinstance(part, dict):
                    parts.append(str(part.get("text", "")))
        out.append(ViewMessage(str(message.get("role", "?")), parts, caption))
    return out


def _from_trl(obj: dict[str, Any], base_dirs: Sequence[Path]) -> View:
    images = [resolve_image(str(i), base_dirs) for i in _items(obj.get("images"))]
    if "prompt" in obj:
        prompt = _trl_messages(obj["prompt"], images)
        chosen = _trl_messages(obj.get("chosen"), images, "preferred")
        rejected = _trl_messages(obj.get("rejected"), images, "not preferred")
        return View("", prompt + chosen + rejected, _last_assistant(chosen, "assistant"))
    messages = _trl_messages(obj.get("messages"), images)
    return View("", messages, _last_assistant(messages, "assistant"))


def _vertex_parts(raw: Any) -> list[str | ViewImage]:
    parts: list[str | ViewImage] = []
    for part in raw if isinstance(raw, list) else []:
        if not isinstance(part, dict):
            continue
        if "text" in part:
            parts.append(str(part["text"]))
        elif isinstance(part.get("inlineData"), dict):
            blob = part["inlineData"]
            parts.append(_from_data_url(f"data:{blob.get('mimeType')};base64,{blob.get('data')}"))
        elif isinstance(part.get("fileData"), dict):
            parts.append(resolve_image(str(part["fileData"].get("fileUri")), []))
    return parts


def _from_vertex(obj: dict[str, Any]) -> View:
    messages: list[ViewMessage] = []
    system = obj.get("systemInstruction") or obj.get("system_instruction")
    if isinstance(system, dict):
        messages.append(ViewMessage("system", _vertex_parts(system.get("parts"))))
    for content in _items(obj.get("contents")):
        if isinstance(content, dict):
            role = {"model": "assistant"}.get(str(content.get("role")), str(content.get("role")))
            messages.append(ViewMessage(role, _vertex_parts(content.get("parts"))))
    answer = _last_assistant(messages, "assistant")
    for completion in _items(obj.get("completions")):
        if isinstance(completion, dict) and isinstance(completion.get("completion"), dict):
            caption = "preferred" if completion.get("score") == 1 else "not preferred"
            msg = ViewMessage(
                "assistant", _vertex_parts(completion["completion"].get("parts")), caption
            )
            messages.append(msg)
            if caption == "preferred":
                answer = _text_of(msg)
    return View("", messages, answer)


def _sharegpt_turn(turn: Any, images: list[ViewImage], caption: str = "") -> ViewMessage:
    if not isinstance(turn, dict):
        return ViewMessage("?", [repr(turn)], caption)
    role = {"human": "user", "gpt": "assistant"}.get(str(turn.get("from")), str(turn.get("from")))
    parts: list[str | ViewImage] = []
    for i, piece in enumerate(str(turn.get("value", "")).split("<image>")):
        if i:
            parts.append(images.pop(0) if images else ViewImage(ref="missing image entry"))
        if piece:
            parts.append(piece)
    return ViewMessage(role, parts, caption)


def _from_sharegpt(obj: dict[str, Any], base_dirs: Sequence[Path]) -> View:
    images = [resolve_image(str(i), base_dirs) for i in _items(obj.get("images"))]
    messages: list[ViewMessage] = []
    if obj.get("system"):
        messages.append(ViewMessage("system", [str(obj["system"])]))
    messages += [_sharegpt_turn(t, images) for t in _items(obj.get("conversations"))]
    answer = _last_assistant(messages, "assistant")
    if "chosen" in obj:
        chosen = _sharegpt_turn(obj["chosen"], images, "preferred")
        messages += [chosen, _sharegpt_turn(obj.get("rejected"), images, "not preferred")]
        answer = _text_of(chosen)
    return View("", messages, answer)


def view_from_line(
    obj: Any, *, title: str, box_format: str = "box_2d", base_dirs: Sequence[Path] = ()
) -> View:
    """One JSONL line of any dialect as a view; an unknown shape becomes a view with a note."""
    if not isinstance(obj, dict):
        view = View(title, [], notes=[f"not a JSON object: {type(obj).__name__}"])
    elif "contents" in obj:
        view = _from_vertex(obj)
    elif "conversations" in obj:
        view = _from_sharegpt(obj, base_dirs)
    elif "prompt" in obj or "images" in obj:
        view = _from_trl(obj, base_dirs)
    elif "messages" in obj or "input" in obj:
        view = _from_openai(obj, base_dirs)
    else:
        keys = ", ".join(sorted(obj)) or "none"
        view = View(title, [], notes=[f"unknown line shape (keys: {keys})"])
    view.title = title
    return finish_view(view, box_format)


# --- HTML --------------------------------------------------------------------------------------


def label_colours(labels: Iterable[str]) -> dict[str, str]:
    """A colour per label, by sorted label order (stable for one file)."""
    return {lb: PALETTE[i % len(PALETTE)] for i, lb in enumerate(sorted(set(labels)))}


def _pct(v: float) -> str:
    return f"{v * 100:.4f}%"


def _image_html(img: ViewImage, boxes: Sequence[DrawBox], colours: dict[str, str], src: str) -> str:
    if img.src is None:
        return f"<div class='noimg'>[{html.escape(img.ref)}]</div>"
    size = f"{img.width}×{img.height}" if img.width and img.height else ""
    drawn = []
    for box in boxes:
        colour = colours.get(box.label, PALETTE[0])
        style = (
            f"position:absolute;box-sizing:border-box;border:2px solid {colour};"
            f"left:{_pct(box.x0)};top:{_pct(box.y0)};"
            f"width:{_pct(box.x1 - box.x0)};height:{_pct(box.y1 - box.y0)}"
        )
        tag = (
            f"<span class='tag' style='position:absolute;left:-2px;bottom:100%;"
            f"background:{colour};color:#fff;font:11px/1.3 sans-serif;padding:0 3px;"
            f"white-space:nowrap'>{html.escape(box.label)}</span>"
        )
        drawn.append(
            f"<div class='box' data-label='{html.escape(box.label, quote=True)}' "
            f"style='{style}'>{tag}</div>"
        )
    return (
        "<div class='imgwrap' style='position:relative;display:inline-block;line-height:0'>"
        f"<img {src} alt='{html.escape(img.ref, quote=True)}' title='{size}' "
        "style='display:block;max-width:100%;height:auto'>" + "".join(drawn) + "</div>"
    )


def render_view(view: View, colours: dict[str, str], src: Callable[[ViewImage], str]) -> str:
    """A view as an HTML fragment; `src` gives each `<img>` its source attribute(s)."""
    images = view.images
    rows: list[str] = []
    for message in view.messages:
        body: list[str] = []
        for part in message.parts:
            if isinstance(part, str):
                body.append(f"<pre class='text'>{html.escape(part)}</pre>")
            else:
                boxes = view.boxes if len(images) == 1 else []
                body.append(_image_html(part, boxes, colours, src(part)))
        caption = (
            f" <span class='caption'>{html.escape(message.caption)}</span>"
            if message.caption
            else ""
        )
        role = html.escape(message.role)
        rows.append(
            f"<div class='msg {role}'><div class='role'>{role}{caption}</div>"
            f"<div class='body'>{''.join(body)}</div></div>"
        )
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in view.notes)
    legend = "".join(
        f"<span class='chip' style='border-color:{colours.get(lb, PALETTE[0])}'>"
        f"{html.escape(lb)}</span>"
        for lb in view.labels
    )
    return (
        f"<article class='example'><h2>{html.escape(view.title)}"
        f"<span class='labels'>{legend}</span></h2>{''.join(rows)}{notes}</article>"
    )


def _asset(name: str) -> str:
    return (resources.files("annoconvert") / "preview_assets" / name).read_text(encoding="utf-8")


def example_html(example: Example, box_format: str = "box_2d") -> str:
    """One example as an HTML fragment (notebooks): messages, images, boxes drawn on them."""
    view = view_from_example(example, box_format)
    colours = label_colours(b.label for b in view.boxes)
    fragment = render_view(view, colours, lambda img: f"src='{img.src}'" if img.src else "")
    return f"<style>{_asset('preview.css')}</style><div class='acp'>{fragment}</div>"


def _script_json(value: Any) -> str:
    """JSON safe inside <script>: every '<' escaped, so '</script>' cannot end the block."""
    return orjson.dumps(value).decode("utf-8").replace("<", "\\u003c")


def page_html(views: Sequence[View], *, title: str, per_page: int = PER_PAGE) -> str:
    """The whole page: views as data, each image stored once, paged and filtered by the script."""
    table: list[str] = []
    index: dict[bytes, int] = {}
    for view in views:
        for img in view.images:
            if img.src is None:
                continue
            digest = hashlib.sha1(img.src.encode("ascii", "replace")).digest()
            if digest not in index:
                index[digest] = len(table)
                table.append(img.src)
            img.key = index[digest]
    colours = label_colours(lb for v in views for lb in v.labels + [b.label for b in v.boxes])
    examples = [
        {
            "html": render_view(v, colours, lambda img: f"data-img='{img.key}'"),
            "labels": v.labels,
        }
        for v in views
    ]
    data = {"perPage": per_page, "examples": examples, "images": table, "colours": colours}
    options = "".join(
        f"<option value='{html.escape(lb, quote=True)}'>{html.escape(lb)}</option>"
        for lb in colours
    )
    legend = "".join(
        f"<span class='chip' data-label='{html.escape(lb, quote=True)}' "
        f"style='border-color:{c}'>{html.escape(lb)}</span>"
        for lb, c in colours.items()
    )
    t = html.escape(title)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        f"<title>{t}</title><style>{_asset('preview.css')}</style></head>"
        f"<body class='acp'><header><h1>{t}</h1>"
        f"<p id='summary'>{len(views)} examples, {len(table)} distinct images</p>"
        "<div class='controls'><label>Label <select id='filter'><option value=''>all</option>"
        f"{options}</select></label> <span id='legend'>{legend}</span></div>"
        "<nav><button id='prev' type='button'>‹ previous</button> <span id='pageinfo'></span> "
        "<button id='next' type='button'>next ›</button></nav></header>"
        "<noscript><p class='note'>The preview pages its examples with JavaScript; "
        "enable it to see them.</p></noscript>"
        "<main id='examples'></main>"
        f"<script type='application/json' id='preview-data'>{_script_json(data)}</script>"
        f"<script>{_asset('preview.js')}</script></body></html>"
    )


def build_page(
    lines: Iterable[bytes],
    *,
    title: str,
    box_format: str = "box_2d",
    base_dirs: Sequence[Path] = (),
    per_page: int = PER_PAGE,
) -> str:
    """The page for the lines of a JSONL file; a bad line is shown with a note, never dropped."""
    views: list[View] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        name = f"line {number}"
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            views.append(View(name, [], notes=[f"not valid JSON: {err}"]))
            continue
        views.append(view_from_line(obj, title=name, box_format=box_format, base_dirs=base_dirs))
    return page_html(views, title=title, per_page=per_page)
