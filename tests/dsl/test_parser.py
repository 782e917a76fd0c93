"""The .flow parser: every construct parses to the AST nodes the compiler expects."""

from __future__ import annotations

import pytest
from flowc.dsl import ast
from flowc.dsl.parser import ParseError, parse, parse_value, parse_with_diagnostics

from .helpers import FIXTURES


def body(text: str) -> tuple[ast.Statement, ...]:
    """The statements of the only flow in ``flow f { text }``."""
    return parse(f"flow f {{\n{text}\n}}").flows[0].body


def only(text: str) -> ast.Statement:
    (stmt,) = body(text)
    return stmt


def call(name: str, *args: ast.Expr, **kwargs: ast.Expr) -> ast.Call:
    return ast.Call(name, args, tuple(ast.Keyword(k, v) for k, v in kwargs.items()))


def test_use_lists_every_task_module_in_order() -> None:
    module = parse('use "a.tasks"\nuse "b.tasks"')
    assert [u.module for u in module.uses] == ["a.tasks", "b.tasks"]


def test_defaults_accept_commas_and_new_lines_between_options() -> None:
    module = parse('defaults {\n queue = "q", retries = 3\n jitter = true }')
    assert module.defaults is not None
    assert [o.key for o in module.defaults.options] == ["queue", "retries", "jitter"]


def test_flow_without_parameters_needs_no_parentheses() -> None:
    assert parse("flow f { a() }").flows[0] == parse("flow f() { a() }").flows[0]


def test_parameters_have_optional_types_and_defaults() -> None:
    params = parse('flow f(a, b: int, c: list[str] = ["x"], d = 1.5) {}').flows[0].params
    assert params == (
        ast.Param("a"),
        ast.Param("b", "int"),
        ast.Param("c", "list[str]", ast.ListExpr((ast.Literal("x"),))),
        ast.Param("d", None, ast.Literal(1.5)),
    )


def test_a_chain_is_one_statement_across_lines() -> None:
    assert only("a()\n  -> b(1)\n  -> c(x=2)") == ast.Chain(
        (call("a"), call("b", ast.Literal(1)), call("c", x=ast.Literal(2)))
    )


def test_a_group_holds_stages_and_chains() -> None:
    assert only("[a(), b() -> c()]") == ast.Group((call("a"), ast.Chain((call("b"), call("c")))))


def test_a_group_followed_by_a_step_is_a_chain_the_compiler_reads_as_a_chord() -> None:
    stmt = only("[a(), b()] -> c()")
    assert isinstance(stmt, ast.Chain)
    assert isinstance(stmt.steps[0], ast.Group)


def test_a_comprehension_over_range_is_normalised_to_start_stop_step() -> None:
    stmt = only("[a(chunk_id=i) for i in range(3)]")
    assert stmt == ast.Comprehension(
        call("a", chunk_id=ast.Ref("i")), "i",
        ast.Range(ast.Literal(0), ast.Literal(3), ast.Literal(1)),
    )


def test_a_comprehension_can_loop_over_a_parameter_or_a_list() -> None:
    assert isinstance(only("[a(x) for x in xs]"), ast.Comprehension)
    stmt = only("[a(x) for x in [1, 2]]")
    assert isinstance(stmt, ast.Comprehension)
    assert stmt.iterable == ast.ListExpr((ast.Literal(1), ast.Literal(2)))


def test_named_results_are_assignments_and_later_uses_are_refs() -> None:
    rows, use = body("rows = extract_record(path)\ngenerate_summary(rows)")
    assert rows == ast.Assign("rows", call("extract_record", ast.Ref("path")))
    assert use == call("generate_summary", ast.Ref("rows"))


def test_a_named_result_can_start_a_chain() -> None:
    stmt = body("rows = a()\nrows -> map b()")[1]
    assert stmt == ast.Chain((ast.Ref("rows"), ast.Map(call("b"))))


def test_map_takes_an_optional_width_cap_and_options() -> None:
    stmt = only('a() -> map b(mode="fast") max 100 with queue = "cpu"')
    assert isinstance(stmt, ast.Chain)
    fanout = stmt.steps[1]
    assert isinstance(fanout, ast.Map)
    assert fanout.max_width == 100
    assert fanout.call.options == (ast.Option("queue", ast.Literal("cpu")),)


def test_step_options_parse_any_name_and_literal() -> None:
    stmt = only('a() with queue = "q", priority = 8, countdown = 10s, flag = none')
    assert isinstance(stmt, ast.Call)
    assert [(o.key, o.value) for o in stmt.options] == [
        ("queue", ast.Literal("q")), ("priority", ast.Literal(8)),
        ("countdown", ast.Duration(10)), ("flag", ast.Literal(None)),
    ]


def test_backoff_is_a_function_value_with_durations() -> None:
    stmt = only("a() with backoff = exponential(1s, max=60s)")
    assert isinstance(stmt, ast.Call)
    assert stmt.options[0].value == ast.Func(
        "exponential", (ast.Duration(1),), (ast.Keyword("max", ast.Duration(60)),)
    )


def test_a_grouped_step_with_options_is_written_in_parentheses() -> None:
    stmt = only('[(a() with queue = "q"), b()]')
    assert isinstance(stmt, ast.Group)
    assert stmt.items[1] == call("b")


def test_bang_marks_an_immutable_step() -> None:
    stmt = only("a() -> !b()")
    assert isinstance(stmt, ast.Chain)
    assert stmt.steps[1] == ast.Call("b", immutable=True)


def test_underscore_is_the_placeholder_for_the_previous_result() -> None:
    stmt = only("a() -> b(1, data=_)")
    assert isinstance(stmt, ast.Chain)
    assert stmt.steps[1] == call("b", ast.Literal(1), data=ast.Placeholder())


def test_flow_level_error_handler_is_kept_out_of_the_body() -> None:
    flow = parse("flow f { a()\n on error -> report(1) }").flows[0]
    assert flow.body == (call("a"),)
    assert flow.on_error == call("report", ast.Literal(1))


def test_per_step_error_handler_is_an_on_error_option() -> None:
    stmt = only("a() with on_error = report(1)")
    assert isinstance(stmt, ast.Call)
    assert stmt.options[0] == ast.Option("on_error", ast.Func("report", (ast.Literal(1),)))


def test_cron_schedule_has_expression_time_zone_and_target() -> None:
    (sched,) = parse('schedule s = cron "30 2 * * *" tz "UTC" -> m()').schedules
    assert sched == ast.Schedule("s", "cron", "30 2 * * *", call("m"), "UTC")


def test_every_schedule_has_a_duration() -> None:
    (sched,) = parse("schedule ping = every 30s -> m()").schedules
    assert sched == ast.Schedule("ping", "every", ast.Duration(30), call("m"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), ("1h30m", 5400),
     ("1.5s", 1.5)],
)
def test_durations_are_seconds(text: str, seconds: float) -> None:
    assert parse_value(text) == ast.Duration(seconds)


@pytest.mark.parametrize(
    ("text", "expected"),
    [('"a\\"b\\n"', ast.Literal('a"b\n')), ("'single'", ast.Literal("single")),
     ("42", ast.Literal(42)), ("-7", ast.Literal(-7)), ("2.5", ast.Literal(2.5)),
     ("1e3", ast.Literal(1000.0)), ("true", ast.Literal(True)), ("false", ast.Literal(False)),
     ("none", ast.Literal(None)), ("x", ast.Ref("x")),
     ('{a: 1, "b c": [2]}', ast.DictExpr((("a", ast.Literal(1)),
                                           ("b c", ast.ListExpr((ast.Literal(2),))))))],
)
def test_literals_parse_to_typed_values(text: str, expected: ast.Expr) -> None:
    assert parse_value(text) == expected


def test_true_and_one_are_different_literals() -> None:
    assert ast.Literal(True) != ast.Literal(1)


def test_keywords_stay_usable_as_names_where_no_keyword_fits() -> None:
    stmt = only("a() with backoff = exponential(1s, max=60s, range=2)")
    assert isinstance(stmt, ast.Call)


def test_comments_are_collected_with_their_lines() -> None:
    module = parse("# top\nflow f { a() # trailing\n}")
    assert [(c.text, c.span.line) for c in module.comments] == [("# top", 1), ("# trailing", 2)]


def test_spans_are_one_based_with_exclusive_end() -> None:
    stmt = parse("flow f {\n    analyze_chunk(1)\n}").flows[0].body[0]
    assert isinstance(stmt, ast.Call)
    assert stmt.span == ast.Span(2, 5, 2, 21)
    assert stmt.name_span == ast.Span(2, 5, 2, 18)


def test_parse_error_carries_diagnostics_and_renders_them() -> None:
    with pytest.raises(ParseError) as info:
        parse("flow f { a() -> }", "x.flow")
    assert info.value.diagnostics[0].code == "F101"
    assert str(info.value).startswith("x.flow:1:17: error F101:")


def test_errors_in_several_flows_are_all_reported() -> None:
    text = "flow a { x( }\nflow b { y() -> }\nflow c { z() }\n"
    module, diagnostics = parse_with_diagnostics(text)
    assert [d.span.line for d in diagnostics] == [1, 2]
    assert module is not None


def test_after_syntax_errors_the_intact_flows_are_kept_and_the_broken_ones_named() -> None:
    text = "flow a { x( }\nflow b { y() -> }\nflow c { z() }\n"
    module, _ = parse_with_diagnostics(text)
    assert module is not None
    assert [f.name for f in module.flows] == ["c"]
    assert module.flows[0].span.line == 3
    assert module.broken == ("a", "b")


@pytest.mark.parametrize("name", ["etl.flow", "media.flow"])
def test_fixture_files_parse(name: str) -> None:
    module = parse((FIXTURES / name).read_text(encoding="utf-8"), name)
    assert module.flows
