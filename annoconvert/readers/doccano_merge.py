"""Merge one example's records from several user files (individual mode) into one group.

Doccano writes every member file in the same example order (by creation time), so the files
are read in lockstep and merged while their keys agree: memory stays flat. When they stop
agreeing (approved-only exports list different examples per user), the rest is merged through
an ordered index. Either way the groups come out in the order a sequential scan of the files
(sorted by name) first meets each example, and each group lists its records in file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from annoconvert.model import Reject
from annoconvert.readers.doccano_records import Record

Group = list[tuple[str | None, Record]]


def merge(
    streams: Sequence[tuple[str | None, Iterable[Record | Reject]]],
) -> Iterator[Group | Reject]:
    """Groups of records sharing a key, one record per user file (or Rejects for bad lines)."""
    if len(streams) == 1:
        annotator, items = streams[0]
        for item in items:
            yield item if isinstance(item, Reject) else [(annotator, item)]
        return
    iters = [(annotator, iter(items)) for annotator, items in streams]
    heads: list[Record | None] = []
    while True:
        heads = []
        for _, it in iters:
            head = None
            for item in it:
                if isinstance(item, Reject):
                    yield item
                    continue
                head = item
                break
            heads.append(head)
        live = [h for h in heads if h is not None]
        if not live:
            return
        if len(live) == len(heads) and all(h.key == live[0].key for h in live):
            yield [(iters[i][0], h) for i, h in enumerate(live)]
            continue
        break
    yield from _merge_rest(iters, heads)


def _merge_rest(
    iters: list[tuple[str | None, Iterator[Record | Reject]]], heads: list[Record | None]
) -> Iterator[Group | Reject]:
    index: dict[object, Group] = {}
    for (annotator, it), head in zip(iters, heads, strict=True):
        if head is None:
            continue
        index.setdefault(head.key, []).append((annotator, head))
        for item in it:
            if isinstance(item, Reject):
                yield item
            else:
                index.setdefault(item.key, []).append((annotator, item))
    yield from index.values()
