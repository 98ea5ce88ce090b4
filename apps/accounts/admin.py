from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from .forms import AdminLoginForm
from .models import ApiToken, Membership, Team, TeamInvite

# The admin's log-in page is locked out like the site's after repeated wrong passwords.
admin.site.login_form = AdminLoginForm


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class TeamInviteInline(admin.TabularInline):
    model = TeamInvite
    extra = 0
    fields = ["role", "created_by", "created", "revoked"]
    readonly_fields = ["role", "created_by", "created"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # owners make links on the team page, where the link is shown


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "is_personal", "run_quota", "storage_quota_label", "created"]
    list_filter = ["is_personal"]
    search_fields = ["name", "members__username"]
    fieldsets = [
        (None, {"fields": ["name", "is_personal"]}),
        ("Quotas", {"fields": ["max_concurrent_runs", "max_stored_bytes", "max_workers_per_run"],
                    "description": "Leave empty to follow the deployment's defaults."}),
    ]
    inlines = [MembershipInline, TeamInviteInline]

    @admin.display(description="storage quota")
    def storage_quota_label(self, team):
        return filesizeformat(team.storage_quota)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "last_used", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["user", "name", "prefix", "created", "last_used", "revoked"]
    readonly_fields = ["user", "prefix", "created", "last_used"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # a key is shown once, to its user, on the API tokens page

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        queryset.filter(revoked=None).update(revoked=timezone.now())
