from django.contrib import admin

from .models import Dataset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "status", "num_images", "task", "created"]
    list_filter = ["status", "task"]
    search_fields = ["name", "team__name"]
    readonly_fields = ["classes", "findings", "stats", "archive", "training_file"]
