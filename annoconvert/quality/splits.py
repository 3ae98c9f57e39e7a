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
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from annoconvert.errors import ConfigError

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


def assign_splits(
    items: Sequence[tuple[Hashable | None, Hashable | None]],
    spec: str | SplitSpec,
    seed: int = 0,
) -> list[str]:
    """The split name of each `(group, label)` item, in input order (pure; see module doc)."""
    parsed = parse_split(spec) if isinstance(spec, str) else spec
    if parsed.by_subset:
        raise ConfigError("by-subset splits follow the tool's subsets; use subset_split_name")
    names = parsed.names
    fractions = [f for _, f in parsed.fractions]
    blocks: dict[Hashable, list[int]] = defaultdict(list)
    for index, (group, _label) in enumerate(items):
        key: Hashable = ("group", group) if group is not None else ("item", index)
        blocks[key].append(index)
    label_totals: Counter[Hashable] = Counter(label for _g, label in items)
    order = list(blocks.values())
    random.Random(seed).shuffle(order)
    order.sort(key=len, reverse=True)  # stable: equal sizes keep the shuffled order

    counts: list[Counter[Hashable]] = [Counter() for _ in names]
    sizes = [0] * len(names)
    result = [""] * len(items)
    total = len(items)
    for block in order:
        block_labels = Counter(items[i][1] for i in block)

        def need(s: int, block_labels: Counter[Hashable] = block_labels) -> tuple[float, float]:
            label_need = sum(
                n * (fractions[s] * label_totals[lbl] - counts[s][lbl])
                for lbl, n in block_labels.items()
            )
            return (label_need, fractions[s] * total - sizes[s])

        best = max(range(len(names)), key=lambda s: (*need(s), -s))
        counts[best].update(block_labels)
        sizes[best] += len(block)
        for i in block:
            result[i] = names[best]
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
