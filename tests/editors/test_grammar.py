"""The TextMate grammar (editors/flow.tmLanguage.json) covers the language of dsl/flow.lark."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.editors.textmate import Grammar, Token

ROOT = Path(__file__).resolve().parents[2]
GRAMMAR_FILE = ROOT / "editors" / "flow.tmLanguage.json"
EXAMPLES = sorted((ROOT / "examples").glob("*.flow"))

EVERY_KEYWORD = '''use "examples.tasks"
defaults { retries = 3 }
flow f(ids: list[int] = [1]) {
    r = a() -> map b() max 10 with queue = "q"
    [c(i) for i in range(3)]
    on error -> d(true, false, none)
}
schedule s = cron "* * * * *" tz "UTC" -> f()
schedule t = every 30s -> f()
'''


@pytest.fixture(scope="module")
def grammar() -> Grammar:
    return Grammar(json.loads(GRAMMAR_FILE.read_text(encoding="utf-8")))


def scopes_of(tokens: list[Token], text: str) -> tuple[str, ...]:
    """The scopes of the first token whose text is ``text``."""
    return next(t.scopes for t in tokens if t.text == text)


def illegal(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if any(s.startswith("invalid.illegal") for s in t.scopes)]


def test_generated_editor_files_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "editors" / "build.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_every_regex_of_the_grammar_compiles(grammar: Grammar) -> None:
    def regexes(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [v for k, v in node.items() if k in ("match", "begin", "end")]
            return found + [r for v in node.values() for r in regexes(v)]
        if isinstance(node, list):
            return [r for v in node for r in regexes(v)]
        return []

    sources = regexes(json.loads(GRAMMAR_FILE.read_text(encoding="utf-8")))
    assert len(sources) > 20
    for source in sources:
        re.compile(source)


def test_every_keyword_of_flow_lark_is_highlighted_as_a_keyword(grammar: Grammar) -> None:
    lark = (ROOT / "dsl" / "flow.lark").read_text(encoding="utf-8")
    keywords = re.findall(r'^_?[A-Z]+:\s*"([a-z]+)"\s*$', lark, flags=re.MULTILINE)
    assert len(keywords) == 18
    tokens = grammar.tokenize(EVERY_KEYWORD)
    for word in keywords:
        scope = scopes_of(tokens, word)[-1]
        assert scope.split(".")[0] in ("keyword", "storage", "constant"), (word, scope)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_tokenizes_without_illegal_regions(grammar: Grammar, path: Path) -> None:
    tokens = grammar.tokenize(path.read_text(encoding="utf-8"))
    assert illegal(tokens) == []


def test_characters_outside_the_language_are_marked_illegal(grammar: Grammar) -> None:
    tokens = grammar.tokenize("flow f {\n    a() | b(10x)\n}\n")
    assert [(t.text, t.scopes[-1]) for t in illegal(tokens)] == [
        ("|", "invalid.illegal.character.flow"), ("10x", "invalid.illegal.duration.flow")]


def test_literals_comments_and_operators_get_their_scopes(grammar: Grammar) -> None:
    text = ('flow f {  # note\n    a("x\\n", 1h30m, 2.5, -7) -> !b(n=_)\n}\n')
    tokens = grammar.tokenize(text)
    assert scopes_of(tokens, "# note")[-1] == "comment.line.number-sign.flow"
    assert scopes_of(tokens, "\\n")[-2:] == ("string.quoted.double.flow",
                                             "constant.character.escape.flow")
    assert scopes_of(tokens, "1h30m")[-1] == "constant.numeric.duration.flow"
    assert scopes_of(tokens, "2.5")[-1] == "constant.numeric.float.flow"
    assert scopes_of(tokens, "-7")[-1] == "constant.numeric.integer.flow"
    assert scopes_of(tokens, "->")[-1] == "keyword.operator.arrow.flow"
    assert scopes_of(tokens, "!")[-1] == "keyword.operator.immutable.flow"
    assert scopes_of(tokens, "b")[-1] == "entity.name.function.call.flow"
    assert scopes_of(tokens, "n")[-1] == "variable.parameter.flow"
    assert scopes_of(tokens, "_")[-1] == "variable.language.placeholder.flow"
    assert scopes_of(tokens, "f")[-1] == "entity.name.function.flow"


def test_a_keyword_used_as_a_keyword_argument_is_a_parameter(grammar: Grammar) -> None:
    tokens = grammar.tokenize("defaults {\n    backoff = exponential(1s, max=60s)\n}\n")
    assert scopes_of(tokens, "max")[-1] == "variable.parameter.flow"
    assert scopes_of(tokens, "backoff")[-1] == "support.type.property-name.option.flow"


def test_a_dict_in_defaults_does_not_end_the_block(grammar: Grammar) -> None:
    tokens = grammar.tokenize("defaults {\n    x = {a: 1}\n    queue = \"q\"\n}\n")
    assert scopes_of(tokens, "queue")[-1] == "support.type.property-name.option.flow"
