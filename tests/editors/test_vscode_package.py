"""The VS Code extension folder is complete: every file package.json names exists and says
what the rest of the repository says (language id, grammar scope, YAML schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from flowc.dsl.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    return dict(json.loads((VSCODE / "package.json").read_text(encoding="utf-8")))


def test_every_file_package_json_names_exists(package: dict[str, Any]) -> None:
    contributes = package["contributes"]
    named = [package["main"],
             *(lang["configuration"] for lang in contributes["languages"]),
             *(g["path"] for g in contributes["grammars"]),
             *(v["url"] for v in contributes["yamlValidation"])]
    assert len(named) == 4
    for relative in named:
        assert (VSCODE / relative).is_file(), relative


def test_flow_files_get_the_language_its_grammar_and_the_language_server(
        package: dict[str, Any]) -> None:
    [language] = package["contributes"]["languages"]
    [grammar] = package["contributes"]["grammars"]
    assert language["extensions"] == [".flow"] and grammar["language"] == language["id"]
    scope = json.loads((VSCODE / grammar["path"]).read_text(encoding="utf-8"))["scopeName"]
    assert grammar["scopeName"] == scope == "source.flow"
    assert package["activationEvents"] == [f"onLanguage:{language['id']}"]
    extension = (VSCODE / package["main"]).read_text(encoding="utf-8")
    assert f'language: "{language["id"]}"' in extension
    assert package["contributes"]["configuration"]["properties"]["flowc.server.args"][
        "default"] == ["lsp"]


def test_the_extension_ships_the_grammar_built_for_editors(package: dict[str, Any]) -> None:
    [grammar] = package["contributes"]["grammars"]
    shipped = (VSCODE / grammar["path"]).read_text(encoding="utf-8")
    assert shipped == (ROOT / "editors" / "flow.tmLanguage.json").read_text(encoding="utf-8")


def test_flow_yaml_files_are_validated_with_the_yaml_forms_schema(
        package: dict[str, Any]) -> None:
    [validation] = package["contributes"]["yamlValidation"]
    assert "*.flow.yaml" in validation["fileMatch"]
    schema = json.loads((VSCODE / validation["url"]).read_text(encoding="utf-8"))
    assert schema == json_schema()


def test_the_shipped_schema_accepts_the_yaml_examples_and_rejects_a_misspelt_key() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((VSCODE / "schemas" / "flowc-file.schema.json").read_text("utf-8"))
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"flowz": {}}, schema)


def test_language_configuration_knows_comments_brackets_and_closing_pairs() -> None:
    config = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
    assert config["brackets"] == [["{", "}"], ["[", "]"], ["(", ")"]]
    assert {p["open"] for p in config["autoClosingPairs"]} == {"{", "[", "(", '"', "'"}
