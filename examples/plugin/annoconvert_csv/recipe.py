"""The `json-label` recipe: text plus one class -> the answer `{"label": "..."}` (valid JSON)."""

from __future__ import annotations

from collections.abc import Sequence

from annoconvert.errors import RecipeError
from annoconvert.model import AnnotationSet, Choice, Example, PreparedImage, Task, TextPart
from annoconvert.options import Options
from annoconvert.recipes.common import declared_labels, dumps, label_list, make_example


class JsonLabel:
    """Like `classification`, but the model answers with a JSON object."""

    name = "json-label"
    summary = 'text + one choice -> {"label": ...} as JSON'
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        """One example; a task without exactly one label is rejected with a code."""
        choice = next((r for r in annotation.regions if isinstance(r, Choice)), None)
        if choice is None or len(choice.labels) != 1:
            raise RecipeError("missing_label", "the task needs exactly one label")
        if task.text is None:
            raise RecipeError("missing_field", "the task has no text")
        allowed = declared_labels(task, choice.field)
        system = options.system or (
            'Classify the text. Answer with a JSON object {"label": ...}'
            + (f" whose label is one of {label_list(allowed)}." if allowed else ".")
        )
        return [
            make_example(
                task,
                annotation,
                system=system,
                user=[TextPart(task.text)],
                assistant=dumps({"label": choice.labels[0]}),
                label=choice.labels[0],
            )
        ]


RECIPE = JsonLabel()
