"""Found by ``app.autodiscover_tasks()``: ``demoapp`` is in INSTALLED_APPS."""

from demoapp.models import Widget  # models import fine: the worker sets Django up first
from flowc import shared_task


@shared_task
def add(x, y):
    return x + y


@shared_task
def count_widgets():
    return Widget.objects.count()


@shared_task
def rename_widget(widget_id, name):
    w = Widget.objects.get(id=widget_id)
    w.name = name
    w.save()
    return w.name


@shared_task(bind=True)
def where(self):
    """The queue this task was delivered on (CELERY_TASK_DEFAULT_QUEUE routes it)."""
    return self.request.delivery_info["routing_key"]


@shared_task
def found_open_connection():
    """Whether this task found a database connection left open by an earlier one. The
    worker closes them around each task (CONN_MAX_AGE = 0 here), as Celery's does: False."""
    from django.db import connection

    was_open = connection.connection is not None
    Widget.objects.exists()  # opens one
    return was_open
