"""The safe XML parser says why it refused a document, whichever libxml2 lxml carries.

libxml2 2.12 and later stop an entity bomb on their own ("amplification factor"), while the
first read is parsed and before any element reaches the DOCTYPE check; the refusal must still
name the DOCTYPE, and a plain syntax error under a harmless DOCTYPE must stay a syntax error.
"""

from __future__ import annotations

import io

import pytest

from annoconvert.errors import ParseError, UnsafeInputError
from annoconvert.xmlsafe import HEAD_BYTES, iter_events

BOMB_SUBSET = "".join(
    f'<!ENTITY {name} "{("&" + prev + ";") * 10 if prev else "a" * 10}">'
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def _events(document: str) -> list[str]:
    return [event for event, _ in iter_events(io.BytesIO(document.encode()), "in.xml")]


@pytest.mark.parametrize(
    "prolog",
    [
        f"<!DOCTYPE annotations [{BOMB_SUBSET}]>",
        f"<!DOCTYPE annotations\n  [\n{BOMB_SUBSET}]>",
    ],
)
def test_an_entity_bomb_used_at_once_is_refused_for_its_doctype(prolog: str) -> None:
    document = f'<?xml version="1.0"?>\n{prolog}\n<annotations><image name="&i;"/></annotations>'
    with pytest.raises(UnsafeInputError) as caught:
        _events(document)
    assert "DOCTYPE" in str(caught.value) and caught.value.locator == "DOCTYPE"


def test_an_external_entity_is_refused_for_its_doctype() -> None:
    document = (
        '<?xml version="1.0"?>\n<!DOCTYPE a SYSTEM "file:///etc/passwd">\n'
        "<annotations><version>1.1</version></annotations>"
    )
    with pytest.raises(UnsafeInputError):
        _events(document)


def test_a_syntax_error_under_a_harmless_doctype_stays_a_syntax_error() -> None:
    with pytest.raises(ParseError) as caught:
        _events('<?xml version="1.0"?>\n<!DOCTYPE annotations>\n<annotations><image></annotations>')
    assert not isinstance(caught.value, UnsafeInputError)


def test_a_long_document_is_read_whole_and_only_its_head_is_kept() -> None:
    images = "".join(f'<image id="{i}" name="{i}.jpg"/>' for i in range(20_000))
    document = f'<?xml version="1.0"?>\n<annotations>{images}</annotations>'
    assert len(document) > 10 * HEAD_BYTES
    assert _events(document).count("end") == 20_001
