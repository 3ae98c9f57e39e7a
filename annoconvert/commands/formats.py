"""`annoconvert formats`: what this installation can read, build and write."""

from __future__ import annotations

import json
from typing import Any, get_args

import click

from annoconvert.options import BoxFormat, Options, Preset


def catalogue() -> dict[str, Any]:
    """Readers (with their options), recipes, dialects, presets, box formats and options."""
    from annoconvert import registry

    readers = []
    for name in registry.names("readers"):
        reader = registry.reader(name)
        readers.append(
            {
                "name": name,
                "title": reader.title,
                "options": [
                    {"name": o.name, "help": o.help, "choices": list(o.choices or ())}
                    for o in reader.options
                ],
            }
        )
    recipes = [
        {"name": n, "summary": registry.recipe(n).summary} for n in registry.names("recipes")
    ]
    dialects = [
        {"name": n, "summary": registry.dialect(n).summary} for n in registry.names("dialects")
    ]
    options = [
        {
            "name": "--" + name.replace("_", "-"),
            "default": info.default if not callable(info.default) else None,
        }
        for name, info in Options.model_fields.items()
        if name != "reader_options"
    ]
    return {
        "readers": readers,
        "recipes": [{"name": "auto", "summary": "choose from the export"}, *recipes],
        "dialects": dialects,
        "presets": list(get_args(Preset)),
        "box_formats": list(get_args(BoxFormat)),
        "options": json.loads(json.dumps(options, default=str)),
    }


@click.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(as_json: bool) -> None:
    """List readers, recipes, dialects, presets and options."""
    from annoconvert.cli import guarded

    def body() -> int:
        data = catalogue()
        if as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return 0
        for section in ("readers", "recipes", "dialects"):
            click.echo(f"{section}:")
            for item in data[section]:
                click.echo(f"  {item['name']:<22} {item.get('title') or item.get('summary')}")
                for opt in item.get("options", []):
                    click.echo(f"      --{opt['name']}: {opt['help']}")
        click.echo("presets: " + ", ".join(data["presets"]))
        click.echo("box formats: " + ", ".join(data["box_formats"]))
        return 0

    guarded(body)
