"""A settings module for ``config_from_envvar``: Celery's lowercase names."""

task_default_queue = "from_envvar"
task_acks_late = True
