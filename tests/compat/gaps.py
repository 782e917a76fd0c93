"""Known differences, one line each: the flowc parity gaps and the Celery bugs the suite shows.

Keys are case names (``test_x``, or ``test_x[case]`` for one parametrisation). ``conftest.py``
turns each entry into ``xfail(strict=True)`` on that implementation's run, so a fix makes the
case XPASS and fail until its line here is removed. Grouped by the feature a fix would touch.
"""

FLOWC_GAPS: dict[str, str] = {
    # --- deliberate deviation (docs/migrating-from-celery.md, "Deliberate differences") --------
    "test_add_to_chord_extends_the_header":
        "add_to_chord refused: NotImplementedError, a chord header is fixed at submit",
}

CELERY_BUGS: dict[str, str] = {
    "test_expires_while_waiting_for_a_busy_worker_revokes_the_task":
        "expires on the threads pool: checked on receipt only, an expired task still runs",
    "test_nested_group_in_a_chord_header_keeps_header_order":
        "a group nested in a chord header hands the body its results out of header order",
}
