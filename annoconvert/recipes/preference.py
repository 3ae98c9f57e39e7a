"""The `preference` recipe: pairwise, ranked or rated candidate answers -> DPO pairs.

One example per task: `messages` = system (optional) + the user prompt; `preferred` /
`non_preferred` = one assistant message each. The OpenAI dialect writes it as
`{"input": {"messages"}, "preferred_output", "non_preferred_output"}` (OpenAI/Together DPO),
TRL as `prompt` / `chosen` / `rejected`.

Where the answers come from (first match wins):
- `Pairwise` (Label Studio): the two candidate fields are left and right; `selected` names the
  preferred one.
- `Ranking` (Label Studio Ranker): the items of the ranked list; the first ranked is preferred,
  the last ranked is not.
- several `Rating` regions, one per candidate: the highest rated is preferred, the lowest is
  not (the first in candidate order on a tie at either end; all equal is `preference_tie`).

The candidate fields of a control are, in order: `task.fields["__targets__"][control]` when the
reader records the control's targets (data keys); else `--field-order a,b` given by the user;
else the task's text fields that are not the prompt, in data order (Label Studio's pairwise
template `prompt/answer1/answer2` gives left=answer1, right=answer2). A Rating control maps to
the candidate whose field name its own name contains (`rating_answer1` -> `answer1`).

The prompt is `--prompt` rendered with the task's fields, else the task's text, else its
`prompt` field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from annoconvert.errors import RecipeError
from annoconvert.model import (
    AnnotationSet,
    Example,
    Message,
    Pairwise,
    PreparedImage,
    Ranking,
    Rating,
    Task,
    TextPart,
)
from annoconvert.options import Options, template_fields
from annoconvert.recipes.common import (
    group_key,
    render,
    task_values,
    template_values,
)

TARGETS_KEY = "__targets__"
ITEM_TEXT_KEYS = ("body", "text", "content", "html", "title")


def prompt_field(task: Task, options: Options) -> tuple[str, set[str]]:
    """The user prompt text and the data keys it was built from (not candidates)."""
    values = task_values(task)
    if options.prompt is not None:
        used = set(template_fields(options.prompt))
        return render(options.prompt, values), used
    if task.text:
        used = {k for k, v in task.fields.items() if v == task.text}
        return task.text, used | {"text"}
    prompt = task.fields.get("prompt")
    if isinstance(prompt, str) and prompt:
        return prompt, {"prompt"}
    raise RecipeError(
        "missing_field",
        "the task has no prompt: no text and no 'prompt' field; give --prompt '{field}'",
    )


def candidate_fields(
    task: Task, control: str, options: Options, prompt_keys: set[str]
) -> list[str]:
    """The data keys holding the candidates a control compares, in order (see module doc)."""
    targets = task.fields.get(TARGETS_KEY)
    if isinstance(targets, Mapping) and isinstance(targets.get(control), list | tuple):
        return [str(k) for k in targets[control]]
    if options.field_order:
        return list(options.field_order)
    return [
        key
        for key, value in task.fields.items()
        if isinstance(value, str) and not key.startswith("__") and key not in prompt_keys
    ]


def _answer(task: Task, key: str) -> str:
    value = task.fields.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RecipeError("missing_field", f"candidate field {key!r} is empty or absent")
    return value


def _from_pairwise(
    task: Task, region: Pairwise, options: Options, prompt_keys: set[str]
) -> tuple[str, str]:
    fields = candidate_fields(task, region.field, options, prompt_keys)
    if len(fields) != 2:
        raise RecipeError(
            "ambiguous_candidates",
            f"pairwise {region.field!r} needs exactly two candidate fields, found "
            f"{len(fields)} ({', '.join(fields) or 'none'}); "
            "name them with --field-order left,right",
        )
    left, right = _answer(task, fields[0]), _answer(task, fields[1])
    return (left, right) if region.selected == "left" else (right, left)


def _item_text(item: Mapping[str, Any]) -> str | None:
    for key in ITEM_TEXT_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _ranked_items(task: Task, region: Ranking, options: Options) -> dict[str, str]:
    """Item id -> text, from the data list the ranker orders (`{"id", "body"|"title"...}`)."""
    keys = candidate_fields(task, region.field, options, set())
    lists = [task.fields.get(k) for k in keys] if keys else []
    lists += [v for v in task.fields.values() if isinstance(v, list)]
    wanted = set(region.ranked)
    for candidates in lists:
        if not isinstance(candidates, list):
            continue
        items = {
            str(item["id"]): text
            for item in candidates
            if isinstance(item, Mapping) and "id" in item and (text := _item_text(item))
        }
        if wanted <= set(items):
            return items
    raise RecipeError(
        "ambiguous_candidates",
        f"no data list holds text for every item ranked by {region.field!r} "
        "(items need an 'id' and a 'body', 'text' or 'title')",
    )


def _from_ranking(task: Task, region: Ranking, options: Options) -> tuple[str, str]:
    if len(region.ranked) < 2:
        raise RecipeError("preference_tie", f"ranking {region.field!r} orders fewer than two items")
    items = _ranked_items(task, region, options)
    return items[region.ranked[0]], items[region.ranked[-1]]


def _rating_target(control: str, fields: Sequence[str]) -> str | None:
    matches = [f for f in fields if f in control]
    return max(matches, key=len) if matches else None


def _from_ratings(
    task: Task, ratings: list[Rating], options: Options, prompt_keys: set[str]
) -> tuple[str, str]:
    scored: list[tuple[float, int, str]] = []
    for rating in ratings:
        targets = task.fields.get(TARGETS_KEY)
        if isinstance(targets, Mapping) and isinstance(targets.get(rating.field), list | tuple):
            target: str | None = str(targets[rating.field][0])
        else:
            fields = candidate_fields(task, rating.field, options, prompt_keys)
            target = _rating_target(rating.field, fields)
        if target is None:
            raise RecipeError(
                "ambiguous_candidates",
                f"cannot tell which candidate rating {rating.field!r} rates; name the control "
                "after its field (e.g. rating_answer1)",
            )
        order = list(task.fields).index(target) if target in task.fields else len(scored)
        scored.append((rating.value, order, target))
    if len(scored) < 2:
        raise RecipeError("preference_tie", "only one candidate was rated")
    best = min(scored, key=lambda s: (-s[0], s[1]))
    worst = min(scored, key=lambda s: (s[0], s[1]))
    if best[0] == worst[0]:
        raise RecipeError("preference_tie", f"every candidate got the same rating ({best[0]:g})")
    return _answer(task, best[2]), _answer(task, worst[2])


def chosen_rejected(
    task: Task, annotation: AnnotationSet, options: Options, prompt_keys: set[str]
) -> tuple[str, str]:
    """The preferred and the non-preferred answer text of an annotation."""
    regions = annotation.regions
    for region in regions:
        if isinstance(region, Pairwise):
            return _from_pairwise(task, region, options, prompt_keys)
    for region in regions:
        if isinstance(region, Ranking):
            return _from_ranking(task, region, options)
    ratings = [r for r in regions if isinstance(r, Rating)]
    if ratings:
        return _from_ratings(task, ratings, options, prompt_keys)
    raise RecipeError("no_preference", "the annotation has no pairwise choice, ranking or ratings")


class Preference:
    """Pairwise / ranked / rated candidates -> one DPO example (preferred vs non-preferred)."""

    name = "preference"
    summary = "pairwise, ranker or per-answer ratings -> DPO pairs (preferred / non-preferred)"
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        """One example, or RecipeError with a code (see the module doc)."""
        prompt, prompt_keys = prompt_field(task, options)
        chosen, rejected = chosen_rejected(task, annotation, options, prompt_keys)
        if chosen == rejected:
            raise RecipeError(
                "identical_candidates", "the preferred and the other answer are the same text"
            )
        messages: list[Message] = []
        if options.system is not None:
            system = render(options.system, template_values(task, annotation, options))
            messages.append(Message("system", (TextPart(system),)))
        messages.append(Message("user", (TextPart(prompt),)))
        return [
            Example(
                task_id=task.id,
                source=task.source,
                messages=tuple(messages),
                group=group_key(task),
                annotator=annotation.annotator,
                preferred=(Message("assistant", (TextPart(chosen),)),),
                non_preferred=(Message("assistant", (TextPart(rejected),)),),
            )
        ]


PREFERENCE = Preference()
