import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_application = get_wsgi_application()

# POST /api/events's lean path in front of Django (executions/api/ingest.py); everything else is Django's.
from executions.api.ingest import EventIngestion  # noqa: E402  (after Django is set up)

application = EventIngestion(django_application)
