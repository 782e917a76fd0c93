"""The JSON Schema of the YAML form accepts the fixtures and rejects unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from flowc.dsl.schema import FlowcFile, json_schema
from pydantic import ValidationError

from .helpers import FIXTURES


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_fixture_yaml_files_match_the_models(path: Path) -> None:
    FlowcFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_fixture_yaml_files_match_the_json_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), json_schema())


def test_unknown_top_level_key_is_rejected() -> None:
    with pytest.raises(ValidationError):
        FlowcFile.model_validate({"flowz": {}})


def test_schema_names_its_dialect() -> None:
    assert json_schema()["$schema"].endswith("2020-12/schema")
