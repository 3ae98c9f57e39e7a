"""The preference recipe on hand-built tasks: pairwise, ranker, ratings and what it rejects."""

from __future__ import annotations

from typing import Any

import pytest

from annoconvert.errors import RecipeError
from annoconvert.model import (
    AnnotationSet,
    Choice,
    Example,
    Pairwise,
    Ranking,
    Rating,
    Region,
    Source,
    Task,
)
from annoconvert.options import Options
from annoconvert.recipes.preference import PREFERENCE

SOURCE = Source("labelstudio", "export.json", "tasks[0]")
PAIR = {"prompt": "Name a prime.", "answer1": "7", "answer2": "8"}


def build(
    fields: dict[str, Any], *regions: Region, text: str | None = None, **opts: Any
) -> Example:
    task = Task(id=1, source=SOURCE, text=text, fields=fields)
    annotation = AnnotationSet(regions=tuple(regions), annotator="2")
    examples = PREFERENCE.build(task, annotation, [], Options(recipe="preference", **opts))
    assert len(examples) == 1
    return examples[0]


def pair(example: Example) -> tuple[str, str, str]:
    assert example.preferred is not None and example.non_preferred is not None
    return (example.messages[-1].text, example.preferred[0].text, example.non_preferred[0].text)


def reject_code(fields: dict[str, Any], *regions: Region, **opts: Any) -> str:
    with pytest.raises(RecipeError) as err:
        build(fields, *regions, **opts)
    return err.value.code


@pytest.mark.parametrize(
    ("selected", "chosen", "rejected"), [("left", "7", "8"), ("right", "8", "7")]
)
def test_pairwise_selected_side_is_preferred(selected: str, chosen: str, rejected: str) -> None:
    example = build(PAIR, Pairwise("comparison", selected))  # type: ignore[arg-type]
    assert pair(example) == ("Name a prime.", chosen, rejected)
    assert [m.role for m in example.messages] == ["user"]
    assert example.annotator == "2"


def test_pairwise_with_task_text_as_prompt_and_a_system() -> None:
    fields = {**PAIR, "__controls__": {"comparison": "pairwise"}}
    example = build(
        fields, Pairwise("comparison", "left"), text="Name a prime.", system="Be exact."
    )
    assert [m.role for m in example.messages] == ["system", "user"]
    assert example.messages[0].text == "Be exact."
    assert pair(example) == ("Name a prime.", "7", "8")


def test_reader_targets_and_field_order_name_the_candidates() -> None:
    fields = {"question": "Best pet?", "a": "cat", "b": "dog", "note": "internal"}
    with_targets = {**fields, "__targets__": {"cmp": ["b", "a"]}}
    example = build(with_targets, Pairwise("cmp", "left"), prompt="{question}")
    assert pair(example) == ("Best pet?", "dog", "cat")
    example = build(fields, Pairwise("cmp", "right"), prompt="{question}", field_order=("a", "b"))
    assert pair(example) == ("Best pet?", "dog", "cat")
    # without either, three text fields remain besides the prompt: ambiguous
    assert reject_code(fields, Pairwise("cmp", "left"), prompt="{question}") == (
        "ambiguous_candidates"
    )


def test_ranker_first_vs_last() -> None:
    items = [
        {"id": "r1", "title": "Answer one", "body": "Paris is the capital."},
        {"id": "r2", "title": "Answer two", "body": "Lyon, probably."},
        {"id": "r3", "title": "Answer three"},
    ]
    fields = {"prompt": "Capital of France?", "items": items}
    example = build(fields, Ranking("rank", ("r1", "r3", "r2")))
    assert pair(example) == ("Capital of France?", "Paris is the capital.", "Lyon, probably.")
    assert reject_code(fields, Ranking("rank", ("r1", "r9"))) == "ambiguous_candidates"
    assert reject_code(fields, Ranking("rank", ("r1",))) == "preference_tie"


def test_ratings_highest_vs_lowest() -> None:
    fields = {"prompt": "Summarize.", "answer1": "short", "answer2": "long", "answer3": "ok"}
    ratings = (
        Rating("rating_answer1", 2),
        Rating("rating_answer2", 5),
        Rating("rating_answer3", 3),
    )
    assert pair(build(fields, *ratings)) == ("Summarize.", "long", "short")


def test_ratings_ties() -> None:
    fields = {"prompt": "Summarize.", "answer1": "short", "answer2": "long", "answer3": "ok"}
    # a tie at the top: the first candidate in data order wins
    ratings = (Rating("rating_answer3", 4), Rating("rating_answer1", 4), Rating("r_answer2", 1))
    assert pair(build(fields, *ratings))[1:] == ("short", "long")
    same = (Rating("rating_answer1", 3), Rating("rating_answer2", 3))
    assert reject_code(fields, *same) == "preference_tie"
    assert reject_code(fields, Rating("rating_answer1", 3)) == "preference_tie"
    assert reject_code(fields, Rating("stars", 3), Rating("quality", 1)) == "ambiguous_candidates"


def test_rejects_without_preference_or_with_bad_candidates() -> None:
    assert reject_code(PAIR, Choice("c", ("A",))) == "no_preference"
    assert reject_code({**PAIR, "answer2": ""}, Pairwise("c", "left")) == "missing_field"
    assert reject_code({**PAIR, "answer2": "7"}, Pairwise("c", "left")) == "identical_candidates"
    assert reject_code({"answer1": "7", "answer2": "8"}, Pairwise("c", "left")) == "missing_field"


def test_recipe_protocol() -> None:
    from annoconvert.registry import Recipe, recipe

    found = recipe("preference")
    assert found is PREFERENCE
    assert isinstance(found, Recipe)
    assert found.needs_images is False
