"""Dialogue: the task's turns become alternating user/assistant messages, the annotated reply last.

The user is `--user-speaker` (default: the first speaker); every other speaker is the assistant.
With `--train-on last` (default) earlier assistant turns get `weight: 0` so only the annotated
reply is trained; `--train-on all` leaves every assistant turn trainable.
"""

from __future__ import annotations

from collections.abc import Sequence

from annoconvert.errors import RecipeError
from annoconvert.model import (
    AnnotationSet,
    Example,
    Message,
    PreparedImage,
    Task,
    TextAnswer,
    TextPart,
)
from annoconvert.options import Options
from annoconvert.recipes.common import (
    control_values,
    group_key,
    image_parts,
    render,
    task_values,
)

DEFAULT_SYSTEM = "You are a helpful assistant."
USER_ROLES = frozenset({"user", "human", "customer", "client"})


def _user_speaker(task: Task, options: Options) -> str:
    if options.user_speaker is not None:
        return options.user_speaker
    assert task.turns  # the caller checked
    speakers = {t.speaker for t in task.turns}
    roles = speakers & USER_ROLES
    if speakers <= {"user", "assistant", "system"} and "user" in speakers:
        return "user"
    if len(roles) == 1:
        return roles.pop()
    return task.turns[0].speaker


class Dialogue:
    """Dialogue turns plus the annotated reply -> system, user/assistant turns, reply."""

    name = "dialogue"
    summary = "dialogue turns + the annotated reply -> user/assistant messages"
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        if not task.turns:
            raise RecipeError("missing_field", "the task holds no dialogue turns")
        replies = [
            t
            for r in annotation.regions
            if isinstance(r, TextAnswer) and r.region_id is None
            for t in r.texts
            if t.strip()
        ]
        if not replies:
            raise RecipeError("missing_label", "the annotation holds no reply")
        values = task_values(task)
        values.update(control_values(annotation, options))
        user = _user_speaker(task, options)
        messages: list[Message] = []
        if options.system is not None:
            messages.append(Message("system", (TextPart(render(options.system, values)),)))
        system_turns = [t.text for t in task.turns if t.speaker == "system"]
        if options.system is None:
            # the dialogue's own system turns, else a neutral persona (set yours with --system)
            persona = "\n".join(system_turns) or DEFAULT_SYSTEM
            messages.append(Message("system", (TextPart(persona),)))
        weight = 0 if options.train_on == "last" else None
        pending_images = list(image_parts(images, options))
        for turn in task.turns:
            if turn.speaker == "system":
                continue
            if turn.speaker == user:
                parts = (TextPart(turn.text), *pending_images)
                pending_images = []
                messages.append(Message("user", parts))
            else:
                messages.append(Message("assistant", (TextPart(turn.text),), weight))
        if not any(m.role == "user" for m in messages):
            raise RecipeError(
                "missing_field", f"no turn of the user speaker {user!r} in the dialogue"
            )
        reply = (
            render(options.answer_template, {**values, "reply": replies[0]})
            if (options.answer_template)
            else replies[0]
        )
        messages.append(Message("assistant", (TextPart(reply),)))
        return [
            Example(
                task_id=task.id,
                source=task.source,
                messages=tuple(messages),
                multimodal=bool(images) and options.image_mode != "placeholder",
                group=group_key(task),
                annotator=annotation.annotator,
            )
        ]


DIALOGUE = Dialogue()
