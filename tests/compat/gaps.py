"""Known differences, one line each: the flowc parity gaps and the Celery bugs the suite shows.

Keys are case names (``test_x``, or ``test_x[case]`` for one parametrisation). ``conftest.py``
turns each entry into ``xfail(strict=True)`` on that implementation's run, so a fix makes the
case XPASS and fail until its line here is removed. Grouped by the feature a fix would touch.
"""

_BASE = "base= task classes are ignored (class attributes and hooks unused)"
_SIGNALS = "no flowc.signals module"
_SCHEDULES = "no flowc.schedules/flowc.beat (schedule(run_every=), crontab(nowfun=), Scheduler)"
_CONTROL = "app.control has only revoke (no ping/inspect/rate_limit)"

FLOWC_GAPS: dict[str, str] = {
    # --- current/default app and Celery's import paths ------------------------------------------
    "test_async_result_without_app_uses_the_current_app": "no flowc.result; AsyncResult needs app",
    "test_result_set_joins_several_results": "no flowc.result.ResultSet (flowc.ResultSet exists)",
    "test_result_set_add_and_discard": "no flowc.result.ResultSet (flowc.ResultSet exists)",
    "test_group_result_restore_of_unknown_id_is_none": "no flowc.result.GroupResult.restore",
    "test_shared_task_runs_on_the_current_app": "no shared_task",
    "test_current_app_is_the_app": "no current_app",
    "test_current_app_sends_tasks": "no current_app",
    "test_current_app_current_task_inside_a_task": "no current_app (nor current_task)",
    "test_get_task_logger_logs_under_the_task_name": "no flowc.utils.log.get_task_logger",
    "test_signature_by_name_without_app": "signature('name') is not bound to a current app",
    "test_signature_is_a_dict_that_round_trips": "signature(dict) is not bound to a current app",
    "test_empty_group_returns_an_empty_list": "group([]) has no app to apply with",
    "test_import_path_exists[celery:shared_task]": "no flowc.shared_task",
    "test_import_path_exists[celery:current_app]": "no flowc.current_app",
    "test_import_path_exists[celery:chunks]": "no flowc.chunks",
    "test_import_path_exists[celery:xmap]": "no flowc.xmap",
    "test_import_path_exists[celery:xstarmap]": "no flowc.xstarmap",
    "test_import_path_exists[celery:uuid]": "no flowc.uuid",
    "test_import_path_exists[celery.result:AsyncResult]": "no flowc.result module",
    "test_import_path_exists[celery.result:GroupResult]": "no flowc.result module",
    "test_import_path_exists[celery.result:ResultSet]": "no flowc.result module",
    "test_import_path_exists[celery.result:EagerResult]": "no flowc.result module",
    "test_import_path_exists[celery.signals:task_prerun]": _SIGNALS,
    "test_import_path_exists[celery.schedules:crontab]": "no flowc.schedules module",
    "test_import_path_exists[celery.schedules:schedule]": "no flowc.schedules module",
    "test_import_path_exists[celery.app.task:Task]": "no flowc.app.task module",
    "test_import_path_exists[celery.beat:Scheduler]": "no flowc.beat module",
    "test_import_path_exists[celery.utils.log:get_task_logger]": "no flowc.utils.log module",
    "test_import_path_exists[celery.canvas:Signature]": "no flowc.canvas module",
    "test_import_path_exists[celery.states:SUCCESS]": "no flowc.states module",
    # --- task classes and Task attributes ---------------------------------------------------------
    "test_app_task_subclass_attributes_are_inherited": _BASE,
    "test_base_class_on_success_hook_runs": _BASE,
    "test_base_class_before_start_hook_runs": _BASE,
    "test_base_class_after_return_hook_gets_the_state": _BASE,
    "test_base_class_on_failure_hook_runs": _BASE,
    "test_base_class_on_retry_hook_runs": _BASE,
    "test_base_from_the_package_task_class": _BASE,
    "test_task_default_attributes": "Task lacks Celery's attributes (ignore_result, acks_late...)",
    "test_task_option_becomes_an_attribute": "task options are not Task attributes",
    "test_task_signature_method_and_subtask_alias": "no Task.subtask",
    "test_store_eager_result_makes_apply_results_readable_by_id":
        "task option store_eager_result rejected (InvalidTaskOptions)",
    # --- bound tasks in canvases, add_to_chord ----------------------------------------------
    "test_request_group_is_the_group_id": "request.group is None in a group member",
    "test_add_to_chord_extends_the_header":
        "add_to_chord refused: NotImplementedError, a chord header is fixed at submit",
    # --- signatures and canvas shapes ------------------------------------------------------------
    "test_invert_operator_delays_and_waits": "~signature is not supported",
    "test_chain_link_error_runs_on_a_failing_step": "chain.apply_async(link_error=) is F401",
    "test_group_result_save_and_restore": "no flowc.result.GroupResult (flowc.GroupResult exists)",
    "test_chord_body_errback_runs_when_the_header_fails":
        "the body's on_error does not run when the header fails",
    "test_task_map": "no Task.map",
    "test_task_starmap": "no Task.starmap",
    "test_task_chunks": "no Task.chunks",
    # --- calling ----------------------------------------------------------------------------------
    "test_ignore_result_call_option_get_returns_none_at_once":
        "apply_async(ignore_result=True).get() waits instead of returning None",
    "test_headers_option_reaches_the_request": "apply_async(headers=) not in request.headers",
    "test_redis_priority_zero_is_served_first":
        "priority direction: 9 is most urgent, no setting gives Celery's Redis order",
    "test_apply_throw_true_raises_at_once": "apply(throw=True) does not raise",
    "test_apply_runs_link_error": "apply() does not run link_error",
    "test_get_inside_a_task_is_refused": "result.get() inside a task is not refused",
    # --- serialization (kombu's json keeps these types; flowc's orjson gives strings or fails) --
    "test_json_round_trips_the_type[bytes]": "bytes are not JSON-serializable (SerializationError)",
    "test_json_round_trips_the_type[datetime]": "a datetime comes back as an ISO string",
    "test_json_round_trips_the_type[decimal]": "Decimal is not serializable (SerializationError)",
    "test_json_round_trips_the_type[uuid]": "a UUID comes back as a string",
    # --- results and states ----------------------------------------------------------------------
    "test_started_state_carries_pid_and_hostname": "STARTED meta lacks pid and hostname",
    "test_exception_and_propagate_states": "no states.EXCEPTION_STATES/PROPAGATE_STATES",
    "test_update_state_sets_a_custom_state_with_meta": "no Task.update_state",
    "test_get_on_message_sees_each_state_update": "no Task.update_state, no get(on_message=)",
    # --- retries, Reject --------------------------------------------------------------------------
    "test_max_retries_exceeded_error_carries_task_args_and_kwargs":
        "MaxRetriesExceededError has no task_args/task_kwargs",
    "test_reject_without_requeue_stores_failure":
        "Reject(requeue=False) leaves the result PENDING (Celery stores FAILURE)",
    # --- request context --------------------------------------------------------------------------
    "test_request_delivery_info_names_the_queue": "request.delivery_info lacks routing_key",
    "test_request_reply_to_is_set": "no request.reply_to",
    "test_root_id_and_parent_id_of_a_single_task": "root_id is None for a task called alone",
    # --- signals ----------------------------------------------------------------------------------
    "test_task_prerun_and_postrun_fire_in_the_worker": _SIGNALS,
    "test_task_success_fires": _SIGNALS,
    "test_task_failure_fires": _SIGNALS,
    "test_task_retry_fires": _SIGNALS,
    "test_task_revoked_fires": _SIGNALS,
    "test_before_and_after_task_publish_fire_in_the_client": _SIGNALS,
    "test_worker_ready_fired_when_the_worker_started": _SIGNALS,
    "test_signal_connect_and_send_reach_the_receiver": _SIGNALS,
    # --- configuration ----------------------------------------------------------------------------
    "test_conf_get_with_default": "app.conf has no get()",
    "test_conf_result_expires_default_is_one_day": "result_expires is float seconds, not timedelta",
    "test_config_from_object_with_namespace": "no config_from_object(namespace=)",
    "test_config_from_object_by_module_attribute_path": "no 'module:attribute' config paths",
    "test_on_after_configure_adds_periodic_tasks":
        "on_after_configure fires only when beat starts, not when app.conf is first read",
    "test_beat_schedule_setting_accepts_schedule_objects": _SCHEDULES,
    "test_celery_only_settings_are_accepted":
        "Celery settings flowc does not act on are rejected (ImproperlyConfigured)",
    # --- remote control ---------------------------------------------------------------------------
    "test_control_ping_gets_a_pong": _CONTROL,
    "test_inspect_registered_lists_the_tasks": _CONTROL,
    "test_inspect_active_is_a_dict_per_worker": _CONTROL,
    "test_control_rate_limit_is_acknowledged": _CONTROL,
    # --- periodic-task schedules ------------------------------------------------------------------
    "test_schedule_run_every_is_due_after_its_interval": _SCHEDULES,
    "test_schedule_not_due_reports_the_remaining_seconds": _SCHEDULES,
    "test_schedule_remaining_estimate": _SCHEDULES,
    "test_crontab_fields_expand_to_sets": _SCHEDULES,
    "test_crontab_remaining_estimate_uses_nowfun": _SCHEDULES,
    "test_crontab_is_due_when_a_run_was_missed": _SCHEDULES,
    "test_crontab_equality": _SCHEDULES,
    "test_schedule_entry_is_due": _SCHEDULES,
    "test_custom_scheduler_subclass_can_be_defined": _SCHEDULES,
}

CELERY_BUGS: dict[str, str] = {
    "test_expires_while_waiting_for_a_busy_worker_revokes_the_task":
        "expires on the threads pool: checked on receipt only, an expired task still runs",
    "test_nested_group_in_a_chord_header_keeps_header_order":
        "a group nested in a chord header hands the body its results out of header order",
}
