"""A JSON Schema for the YAML form, built from pydantic models, for editors and CI linters.

The models mirror what ``yaml_loader`` accepts; the loader itself walks YAML nodes (to keep
line:col spans) and is the authority. ``json_schema()`` is what ``flowc schema`` can print.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

SCHEMA_ID = "https://flowc.dev/schema/flowc-file.json"

Options: TypeAlias = dict[str, Any]


class _Strict(BaseModel):
    """Base: unknown keys are errors, as in the loader."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CallSpec(_Strict):
    """Long call form: ``{call: task, args: [...], kwargs: {...}, with: {...}}``."""

    call: str
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    with_: Options = Field(default={}, alias="with")
    immutable: bool = False


class ChainSpec(_Strict):
    """``{chain: [stage, ...]}``: each result flows into the next stage."""

    chain: list[Stage]


class GroupSpec(_Strict):
    """``{group: [stage, ...]}``: stages in parallel."""

    group: list[Stage]


class ChordParts(_Strict):
    """Header (a group or for) and body of a chord."""

    header: Stage
    body: Stage


class ChordSpec(_Strict):
    """``{chord: {header: ..., body: ...}}``: sugar for a chain of a group and a step."""

    chord: ChordParts


class RangeSpec(_Strict):
    """``{range: stop}`` or ``{range: [start, stop, step]}``."""

    range: int | str | list[int | str]


class ForSpec(_Strict):
    """``{for: var, in: iterable, do: stage}``: a group unrolled at compile time."""

    for_: str = Field(alias="for")
    in_: RangeSpec | list[Any] | str = Field(alias="in")
    do: Stage


class MapSpec(_Strict):
    """``{map: call, max: N}``: one task per element of the previous result, at run time."""

    map: Stage
    max: PositiveInt | None = None


# A short call is ``{task: [args] | {kwargs} | value | null}`` plus optional with/immutable.
Stage: TypeAlias = (
    str | ChainSpec | GroupSpec | ChordSpec | ForSpec | MapSpec | CallSpec | dict[str, Any]
)


class LetSpec(_Strict):
    """``{let: name, run: stage}``: a named result for dataflow."""

    let: str
    run: Stage


class ParamSpec(_Strict):
    """A parameter with a type and/or default; ``name: type`` is the short form."""

    type: str | None = None
    default: Any = None


class FlowSpec(_Strict):
    """A flow: parameters, statements (``do``) or one chain (``chain``), error handler."""

    params: dict[str, str | ParamSpec | None] = {}
    do: list[LetSpec | Stage] = []
    chain: list[Stage] | None = None
    on_error: Stage | None = None


class ScheduleSpec(_Strict):
    """A schedule: ``cron`` (+ ``tz``) or ``every``, and the step to ``run``."""

    cron: str | None = None
    every: str | None = None
    tz: str | None = None
    run: Stage


class FlowcFile(_Strict):
    """A whole YAML flowc file."""

    use: str | list[str] | None = None
    defaults: Options | None = None
    flows: dict[str, FlowSpec] = {}
    schedules: dict[str, ScheduleSpec] = {}


for _model in (ChainSpec, GroupSpec, ChordParts, ForSpec, MapSpec, LetSpec, FlowSpec,
               ScheduleSpec, FlowcFile):
    _model.model_rebuild()


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the YAML form."""
    schema = FlowcFile.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
