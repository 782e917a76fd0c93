"""Views that start tasks and read their results, as a Django app does with Celery."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from demoapp.models import Widget
from demoapp.tasks import add as add_task
from demoapp.tasks import rename_widget
from flowc.result import AsyncResult


def add(request):
    result = add_task.delay(int(request.GET["x"]), int(request.GET["y"]))
    return JsonResponse({"task_id": result.id}, status=202)


@csrf_exempt
@require_POST
def create_widget(request):
    widget = Widget.objects.create(name=request.POST["name"])
    result = rename_widget.delay(widget.id, request.POST["name"].upper())
    return JsonResponse({"widget_id": widget.id, "task_id": result.id}, status=202)


def task_status(request, task_id):
    result = AsyncResult(task_id)
    body = {"task_id": task_id, "state": result.state}
    if result.ready():
        body["result"] = result.result if result.successful() else repr(result.result)
    return JsonResponse(body)
