"""A second installed app with its own tasks.py; autodiscovery imports it too."""

from flowc import shared_task


@shared_task
def hello(name):
    return f"hello, {name}"
