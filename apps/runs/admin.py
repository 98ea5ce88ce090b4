from django.contrib import admin

from .models import Note, Run, ShareLink


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "status", "progress", "attempts", "worker", "heartbeat_at", "lease_expires",
                    "created"]
    list_filter = ["status", "strategy", "device"]
    search_fields = ["name", "team__name", "worker"]
    readonly_fields = ["result", "best", "artifacts", "last_event_seq", "heartbeat_at", "lease_expires", "worker"]
    ordering = ["-created"]


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    """Staff can see and delete (revoke) share links; the secret itself is never stored, only its hash."""

    list_display = ["run", "token_hint", "allow_download", "created_by", "created"]
    list_filter = ["allow_download"]
    search_fields = ["run__name", "run__team__name"]
    readonly_fields = ["token_hash", "token_hint"]


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["run", "author", "created"]
    search_fields = ["run__name", "author__username", "body"]
