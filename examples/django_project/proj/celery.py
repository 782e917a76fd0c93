"""The project's flowc app: Celery's ``proj/celery.py`` with ``from flowc import App``.

Run a worker from this folder with ``flowc worker -A proj -l INFO``.
"""

import os

from flowc import App

# Set the default Django settings module for the 'flowc' program.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = App("proj")

# Using a string here means the worker doesn't have to serialize the configuration object to
# child processes. namespace='CELERY' means all flowc settings in settings.py have a `CELERY_`
# prefix (CELERY_BROKER_URL -> broker_url), as with Celery.
app.config_from_object("django.conf:settings", namespace="CELERY")

# Load task modules from all registered Django apps (each app's tasks.py).
app.autodiscover_tasks()


@app.task(bind=True, ignore_result=True)
def debug_task(self):
    print(f"Request: {self.request!r}")
