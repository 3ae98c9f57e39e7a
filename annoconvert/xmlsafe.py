"""Streaming XML parsing that never expands entities, loads a DTD or touches the network.

CVAT exports never carry a DOCTYPE, so any document type declaration with an internal subset or an
external id (the carrier of XXE and "billion laughs") is refused as `UnsafeInputError` at the
first element, before any entity could be used; lxml is also told not to resolve entities, so
nothing is expanded even if the check were bypassed. Messages never quote the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from lxml import etree

from annoconvert.errors import ParseError, UnsafeInputError

PARSER_SETTINGS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
}
"""The lxml settings every XML input is parsed with."""


DOCTYPE_REFUSED = (
    "the XML document declares a DOCTYPE with a DTD subset or an external id "
    "(entities are not accepted: they can read local files or expand without bound)"
)


def _check_doctype(elem: etree._Element, file: str) -> None:
    info = elem.getroottree().docinfo
    if info.internalDTD is not None or info.system_url or info.public_id:
        raise UnsafeInputError(DOCTYPE_REFUSED, file=file, locator="DOCTYPE")


HEAD_BYTES = 1 << 16
"""The start of a document kept for telling why it failed before its first element."""
_UNSAFE_DOCTYPE = re.compile(rb"<!DOCTYPE\s+[^\s>\[]+\s*(\[|SYSTEM\b|PUBLIC\b)")


class _HeadKept:
    """The stream lxml reads, keeping its first HEAD_BYTES: libxml2 2.12 and later refuse an
    entity bomb ("amplification factor") while parsing the first read, before any element
    reaches the DOCTYPE check, and the message should still say that the DOCTYPE is why."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.head = b""

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        return data


def iter_events(
    stream: IO[bytes], file: str, events: tuple[str, ...] = ("start", "end")
) -> Iterator[tuple[str, etree._Element]]:
    """Yield lxml iterparse events from `stream` with safe settings; DOCTYPEs are refused.

    The caller clears finished elements (see `release`) so memory stays flat.
    """
    kept = _HeadKept(stream)
    parser = etree.iterparse(kept, events=events, **PARSER_SETTINGS)
    checked = False
    try:
        for event, elem in parser:
            if not checked:
                _check_doctype(elem, file)
                checked = True
            yield event, elem
    except etree.XMLSyntaxError as err:
        if not checked and _UNSAFE_DOCTYPE.search(kept.head):
            raise UnsafeInputError(DOCTYPE_REFUSED, file=file, locator="DOCTYPE") from None
        line = getattr(err, "lineno", None)
        raise ParseError(
            f"not well-formed XML: {_short(err)}",
            file=file,
            locator=f"line {line}" if line else None,
        ) from None


def _short(err: etree.XMLSyntaxError) -> str:
    """The parser's message without any document text (entity names could carry content)."""
    msg = str(err.msg if hasattr(err, "msg") else err)
    return msg.split(",")[0][:120]


def release(elem: etree._Element) -> None:
    """Free a finished element and its already-processed previous siblings."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]
