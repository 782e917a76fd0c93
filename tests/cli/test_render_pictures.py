"""``flowc render`` draws a ``.flow`` file truthfully: called flows, options as written,
handlers and schedule triggers (issue 17)."""

from __future__ import annotations

from pathlib import Path

from .support import EXAMPLES, flowc

HANDLED = '''use "examples.tasks"

flow guarded {
    extract_record("x") with retries = 1, backoff = exponential(1s), timeout = 30s
        -> generate_summary()
    on error -> !execute_db_maintenance()
}

schedule nightly = cron "30 2 * * *" tz "Europe/Berlin" -> guarded()
'''


def render(*args: str) -> str:
    result = flowc("render", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_called_flows_are_dot_clusters_and_mermaid_subgraphs() -> None:
    path = str(EXAMPLES / "nightly.flow")
    dot = render(path, "nightly")
    mermaid = render(path, "nightly", "-f", "mmd")
    for name in ("etl", "media"):
        assert f'label="flow {name}"' in dot
        assert f'["flow {name}"]' in mermaid
    assert dot.count("subgraph cluster_") == 2
    assert mermaid.count("    subgraph cluster_") == 2 and mermaid.count("    end\n") == 2


def test_options_are_labelled_in_the_files_own_words(tmp_path: Path) -> None:
    path = tmp_path / "guarded.flow"
    path.write_text(HANDLED)
    dot = render(str(path), "guarded")
    assert "retries 1, backoff exponential(1s), timeout 30s" in dot
    assert "max_retries" not in dot and "time_limit" not in dot


def test_a_flows_error_handler_is_drawn_alike_in_the_flow_and_in_a_schedule(
    tmp_path: Path,
) -> None:
    path = tmp_path / "guarded.flow"
    path.write_text(HANDLED)
    for picture in (render(str(path), "guarded"), render(str(path), "nightly")):
        assert "any failure" in picture
        assert 'label="on error"' not in picture  # not one edge per node
        assert picture.count("-> e0 [color=\"#c62828\"") == 1


def test_a_schedules_picture_shows_its_cron_and_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "guarded.flow"
    path.write_text(HANDLED)
    dot = render(str(path), "nightly")
    mermaid = render(str(path), "nightly", "-f", "mmd")
    assert 'trigger [label="cron \\"30 2 * * *\\" tz \\"Europe/Berlin\\""' in dot
    assert 'trigger>"cron #quot;30 2 * * *#quot; tz #quot;Europe/Berlin#quot;"]' in mermaid
    assert "trigger -> n0" in dot
