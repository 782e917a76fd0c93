"""Every example in docs/language.md parses (statement snippets are wrapped in a flow)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flowc.dsl.parser import parse, parse_with_diagnostics
from flowc.dsl.yaml_loader import load_yaml

REFERENCE = Path(__file__).parents[2] / "docs" / "language.md"
TEXT = REFERENCE.read_text(encoding="utf-8")
FLOW_BLOCKS = [b for b in re.findall(r"```flow\n(.*?)```", TEXT, re.DOTALL) if "..." not in b]
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", TEXT, re.DOTALL)


@pytest.mark.parametrize("block", FLOW_BLOCKS)
def test_flow_example_in_the_reference_parses(block: str) -> None:
    module, diagnostics = parse_with_diagnostics(block)
    if module is None or diagnostics:
        parse("flow example {\n" + block + "\n}")


@pytest.mark.parametrize("block", YAML_BLOCKS)
def test_yaml_example_in_the_reference_loads(block: str) -> None:
    assert load_yaml(block).flows
