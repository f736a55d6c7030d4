"""The Celery app: the standard Django wiring, settings under the CELERY_ namespace.

Tasks live in each app's tasks.py; `celery -A registry_ui worker` (and `beat`) run them.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_ui.settings")

app = Celery("registry_ui")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
