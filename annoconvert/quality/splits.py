"""Train/validation/test splits: parse the spec, assign examples, name the files.

Why grouped and stratified: a source image or document cut into several examples must land in one
split (else the validation score measures memory, not skill), and each split should hold the
labels in the proportions of the whole.

Algorithm (deterministic for a seed): items sharing a group form one block (an item without a group
is its own block); blocks are shuffled with `random.Random(seed)`, then taken largest first; each
block goes to the split whose label counts are furthest below target, i.e. the split maximising
sum over the block's labels of (fraction x total of that label - count so far). With blocks of one
item this puts every label within one example of its target in every split (the split chosen
always has a need >= 0, so no need ends below -1 and, as needs sum to 0, none ends above 1).
"""

from __future__ import annotations

import math
import random
import re
from array import array
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from annoconvert.errors import ConfigError
from annoconvert.quality.int_arrays import int_array

BY_SUBSET = "by-subset"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SplitSpec:
    """Parsed `--split`: named fractions in the order given, or the tool's own subsets."""

    fractions: tuple[tuple[str, float], ...] = ()
    by_subset: bool = False

    @property
    def names(self) -> list[str]:
        """The split names in the order the user gave them."""
        return [name for name, _ in self.fractions]


def parse_split(spec: str) -> SplitSpec:
    """Parse "train=0.8,val=0.1,test=0.1" or "by-subset"; ConfigError with the reason otherwise."""
    text = spec.strip()
    if text == BY_SUBSET:
        return SplitSpec(by_subset=True)
    if not text:
        raise ConfigError("--split is empty; write e.g. 'train=0.9,val=0.1' or 'by-subset'")
    fractions: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise ConfigError(
                f"--split {spec!r}: {part.strip()!r} is not NAME=FRACTION "
                "(e.g. 'train=0.9,val=0.1' or 'by-subset')"
            )
        try:
            fraction = float(value)
        except ValueError as err:
            raise ConfigError(f"--split {spec!r}: {value.strip()!r} is not a number") from err
        if not math.isfinite(fraction) or not 0.0 < fraction <= 1.0:
            raise ConfigError(f"--split {spec!r}: the fraction of {name!r} must be in (0, 1]")
        if name in dict(fractions):
            raise ConfigError(f"--split {spec!r}: split {name!r} is named twice")
        fractions.append((name, fraction))
    total = sum(f for _, f in fractions)
    if abs(total - 1.0) > _TOLERANCE:
        raise ConfigError(f"--split {spec!r}: the fractions sum to {total:g}, not 1")
    return SplitSpec(fractions=tuple(fractions))


NO_GROUP = -(2**63)
"""The group number of an item without a group (its own block)."""


class SplitItems:
    """The (group, label) of each item as 12 bytes, for a run's lines: the group as a number
    (its 64-bit `hash`; two groups whose hashes collide share a block, a chance of about
    n**2 / 2**65 for n groups), the label as the index of its first occurrence. As objects
    (the group is the task's text) a line took ~600 bytes here: 650 MiB at a million."""

    def __init__(self) -> None:
        self.groups = array("q")
        self.labels = array("i")
        self._label_ids: dict[Hashable, int] = {}

    def add(self, group: Hashable | None, label: Hashable | None) -> None:
        self.groups.append(_group_number(hash(group)) if group is not None else NO_GROUP)
        self.labels.append(self._label_ids.setdefault(label, len(self._label_ids)))

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def label_count(self) -> int:
        return len(self._label_ids)


def _group_number(value: int) -> int:
    return value if value != NO_GROUP else value + 1


def assign_splits(
    items: Sequence[tuple[Hashable | None, Hashable | None]],
    spec: str | SplitSpec,
    seed: int = 0,
) -> list[str]:
    """The split name of each `(group, label)` item, in input order (pure; see module doc)."""
    parsed = parse_split(spec) if isinstance(spec, str) else spec
    if parsed.by_subset:
        raise ConfigError("by-subset splits follow the tool's subsets; use subset_split_name")
    numbered = SplitItems()
    group_ids: dict[Hashable, int] = {}  # exact here: every group its own number
    for group, label in items:
        number = None if group is None else group_ids.setdefault(group, len(group_ids))
        numbered.add(number, label)
    names = parsed.names
    return [names[k] for k in split_indexes(numbered, parsed, seed)]


def split_indexes(items: SplitItems, spec: SplitSpec, seed: int) -> array[int]:
    """The index (in `spec.names`) of each item's split: the module doc's algorithm over the
    numbers of `SplitItems`, with the same results as over the items themselves (blocks in
    order of their first item, the same shuffle of them, the same float sums)."""
    import numpy as np

    names = spec.names
    fractions = [f for _, f in spec.fractions]
    total = len(items)
    result = array("B", bytes(total))
    if not total:
        return result
    groups = np.frombuffer(items.groups, dtype=np.int64)
    # each item's block: the first item of its group (itself without a group)
    _, first_of_group, group_of_item = np.unique(groups, return_index=True, return_inverse=True)
    first_item = first_of_group[group_of_item]
    del first_of_group, group_of_item
    alone = groups == NO_GROUP
    first_item[alone] = np.flatnonzero(alone)
    del alone
    block_firsts, block_of_item = np.unique(first_item, return_inverse=True)
    del first_item
    block_count = len(block_firsts)
    del block_firsts
    # the blocks shuffled (the same permutation as of a list of them), then largest first
    order = array("i", range(block_count))
    random.Random(seed).shuffle(order)
    shuffled = np.frombuffer(order, dtype=np.int32)
    sizes = np.bincount(block_of_item, minlength=block_count)
    order_by_size = int_array(shuffled[np.argsort(-sizes[shuffled], kind="stable")])
    del order, shuffled
    members = int_array(np.argsort(block_of_item, kind="stable"))  # each block's items, in order
    block_starts = int_array(np.concatenate(([0], np.cumsum(sizes))))
    del block_of_item, sizes
    labels = items.labels
    label_totals = np.bincount(
        np.frombuffer(labels, dtype=np.int32), minlength=items.label_count
    ).tolist()
    splits = range(len(names))
    counts = [[0] * items.label_count for _ in names]
    sizes_so_far = [0] * len(names)
    for block in order_by_size:
        start, end = block_starts[block], block_starts[block + 1]
        if end - start == 1:  # most blocks: one item, its need in one expression
            item = members[start]
            lbl = labels[item]
            best = max(
                splits,
                key=lambda s: (
                    fractions[s] * label_totals[lbl] - counts[s][lbl],
                    fractions[s] * total - sizes_so_far[s],
                    -s,
                ),
            )
            counts[best][lbl] += 1
            sizes_so_far[best] += 1
            result[item] = best
            continue
        block_labels = Counter(labels[members[k]] for k in range(start, end))

        def need(s: int, block_labels: Counter[int] = block_labels) -> tuple[float, float]:
            label_need = sum(
                n * (fractions[s] * label_totals[lbl] - counts[s][lbl])
                for lbl, n in block_labels.items()
            )
            return (label_need, fractions[s] * total - sizes_so_far[s])

        best = max(splits, key=lambda s: (*need(s), -s))
        for lbl, n in block_labels.items():
            counts[best][lbl] += n
        sizes_so_far[best] += end - start
        for k in range(start, end):
            result[members[k]] = best
    return result


def subset_split_name(subset: str | None, default: str = "default") -> str:
    """The split of a task under `--split by-subset`: the tool's subset name, else `default`."""
    return subset if subset else default


def split_path(output: str | Path, split: str) -> Path:
    """`OUT.jsonl` -> `OUT.<split>.jsonl` beside it (no suffix: `OUT.<split>.jsonl` too)."""
    path = Path(output)
    suffix = path.suffix or ".jsonl"
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(f"{stem}.{split}{suffix}")


def split_paths(output: str | Path, spec: str | SplitSpec) -> dict[str, Path]:
    """The file of every split of a fractional spec, in the spec's order."""
    parsed = parse_split(spec) if isinstance(spec, str) else spec
    return {name: split_path(output, name) for name in parsed.names}
