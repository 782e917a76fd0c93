"""The examples as hand-written Python canvases (Celery style), one per ``.flow`` file.

Each canvas means the same as its ``.flow`` file: tests lower both and compare the IR
(``tests/compiler/test_flow_equivalence.py``). ``report.flow`` is a dataflow DAG (a result
bound by parameter name), which a canvas cannot express; its IR is compared with a hand-written
``Workflow`` instead. ``flowc convert examples.canvases:metrics --to flow`` prints one as
``.flow``.
"""

from flowc.compiler.canvas import chain, chord, fanout, group

from examples.tasks import (
    analyze_chunk,
    execute_db_maintenance,
    extract_record,
    generate_summary,
    list_stores,
    notify_user,
    process_video_transcode,
    report_failure,
    sync_inventory_webhook,
)

# etl.flow: the seed guide's chain, with the file's `defaults` as options of the whole chain.
etl = chain(
    extract_record.s("file.csv"),
    analyze_chunk.s(mode="deep"),
    generate_summary.s(),
).set(queue="default", max_retries=3, retry_backoff=1, retry_backoff_max=60, retry_jitter=True)

# metrics.flow: the seed guide's chord.
metrics = chord(
    [analyze_chunk.s(chunk_id=i) for i in range(3)],
    generate_summary.s(title="Metrics"),
)

# fanout.flow: flowc's dynamic map over a list made at run time.
stores = chain(
    list_stores.s("eu", 3),
    fanout(sync_inventory_webhook.s(), max_width=100),
    generate_summary.s(title="Inventory"),
)

# media.flow: options on one step, an immutable step; the flow's `on error` is the
# workflow-level handler (passed to lower(..., on_error=[media_on_error])).
media = chain(
    process_video_transcode.s(42, "webm").set(
        queue="media_heavy", priority=8, countdown=1, time_limit=300, rate_limit="10/m"),
    notify_user.si(42),
)
media_on_error = report_failure.s(video_id=42)

# nightly.flow: the two sub-flows inlined side by side, then maintenance once both are done.
nightly = chain(
    group(
        chain(extract_record.s("s3://bucket/today.csv"), analyze_chunk.s(mode="deep"),
              generate_summary.s()),
        chain(process_video_transcode.s(7, "mp4").set(queue="media_heavy"), notify_user.si(7)),
    ),
    execute_db_maintenance.si(),
).set(max_retries=2)
