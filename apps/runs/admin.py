from django.contrib import admin

from .models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "status", "progress", "attempts", "worker", "heartbeat_at", "lease_expires",
                    "created"]
    list_filter = ["status", "strategy", "device"]
    search_fields = ["name", "team__name", "worker"]
    readonly_fields = ["result", "best", "artifacts", "last_event_seq", "heartbeat_at", "lease_expires", "worker"]
    ordering = ["-created"]
