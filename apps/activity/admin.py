from django.contrib import admin

from .models import Activity


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["created", "team", "actor", "verb", "target_kind", "target_label"]
    list_filter = ["verb"]
    search_fields = ["team__name", "actor__username", "target_label"]
    ordering = ["-created"]

