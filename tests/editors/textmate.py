"""A small TextMate tokenizer for tests: enough of the format (``match`` with captures,
``begin``/``end`` rules, ``include`` of the repository) to run ``editors/flow.tmLanguage.json``
over real files. Python's ``re`` reads the grammar's regexes as Oniguruma does (the build keeps
to that common syntax). At each position the earliest match wins; on a tie the enclosing
rule's ``end`` wins, then the first pattern listed (TextMate's rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Rule = dict[str, Any]


@dataclass(frozen=True)
class Token:
    """A piece of a line and the scopes it has, outermost first."""

    line: int
    text: str
    scopes: tuple[str, ...]


class Grammar:
    """A loaded TextMate grammar that tokenizes text line by line."""

    def __init__(self, grammar: dict[str, Any]) -> None:
        self.scope = grammar["scopeName"]
        self.repository: dict[str, Rule] = grammar.get("repository", {})
        self.top: list[Rule] = grammar["patterns"]
        self._compiled: dict[str, re.Pattern[str]] = {}

    def regex(self, source: str) -> re.Pattern[str]:
        if source not in self._compiled:
            self._compiled[source] = re.compile(source)
        return self._compiled[source]

    def expand(self, patterns: list[Rule]) -> list[Rule]:
        """The rules that can match, with ``include``\\ s and pattern lists flattened."""
        out: list[Rule] = []
        for rule in patterns:
            if "include" in rule:
                out += self.expand([self.repository[rule["include"].removeprefix("#")]])
            elif "match" in rule or "begin" in rule:
                out.append(rule)
            else:
                out += self.expand(rule.get("patterns", []))
        return out

    def tokenize(self, text: str) -> list[Token]:
        """Every non-empty token of ``text``."""
        tokens: list[Token] = []
        stack: list[tuple[Rule, tuple[str, ...]]] = []
        for number, line in enumerate(text.split("\n"), start=1):
            pos, seen_empty_at = 0, -1
            while pos <= len(line):
                rule, scopes = stack[-1] if stack else ({"patterns": self.top}, (self.scope,))
                best: tuple[int, int, Rule | None, re.Match[str]] | None = None
                if "end" in rule:
                    m = self.regex(rule["end"]).search(line, pos)
                    if m:
                        best = (m.start(), 0, None, m)
                for order, candidate in enumerate(self.expand(rule.get("patterns", [])), 1):
                    m = self.regex(candidate.get("match") or candidate["begin"]).search(line, pos)
                    if m and (best is None or (m.start(), order) < best[:2]):
                        best = (m.start(), order, candidate, m)
                if best is None:
                    self._emit(tokens, number, line[pos:], scopes)
                    break
                start, _, chosen, m = best
                if m.end() == m.start() and chosen is not None:
                    if seen_empty_at == pos:  # an empty match twice here: step over a character
                        self._emit(tokens, number, line[pos:pos + 1], scopes)
                        pos += 1
                        continue
                    seen_empty_at = pos
                self._emit(tokens, number, line[pos:start], scopes)
                if chosen is None:  # the enclosing rule ends
                    self._captured(tokens, number, m, scopes, rule.get("endCaptures", {}))
                    stack.pop()
                elif "match" in chosen:
                    inner = _with(scopes, chosen.get("name"), m)
                    self._captured(tokens, number, m, inner, chosen.get("captures", {}))
                else:
                    inner = _with(scopes, chosen.get("name"), m)
                    self._captured(tokens, number, m, inner, chosen.get("beginCaptures", {}))
                    stack.append((chosen, inner))
                if m.end() == len(line) and m.end() == pos and chosen is None:
                    continue
                pos = m.end()
                if pos == len(line) and not stack:
                    break
        return tokens

    def _captured(self, tokens: list[Token], number: int, m: re.Match[str],
                  scopes: tuple[str, ...], captures: dict[str, Rule]) -> None:
        """Emit ``m`` with each captured group's scope (groups do not nest in our grammar)."""
        pos = m.start()
        for group in sorted((int(k) for k in captures if int(k) > 0), key=m.start):
            if m.start(group) < 0:
                continue
            self._emit(tokens, number, m.string[pos:m.start(group)], scopes)
            name = captures[str(group)].get("name")
            self._emit(tokens, number, m.group(group), _with(scopes, name, m))
            pos = m.end(group)
        whole = captures.get("0", {}).get("name")
        self._emit(tokens, number, m.string[pos:m.end()], _with(scopes, whole, m))

    @staticmethod
    def _emit(tokens: list[Token], number: int, text: str, scopes: tuple[str, ...]) -> None:
        if text:
            tokens.append(Token(number, text, scopes))


def _with(scopes: tuple[str, ...], name: str | None, m: re.Match[str]) -> tuple[str, ...]:
    if not name:
        return scopes
    return (*scopes, re.sub(r"\$(\d+)", lambda g: m.group(int(g.group(1))) or "", name))
