from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "apps.activity"

    def ready(self):
        from . import signals  # noqa: F401
