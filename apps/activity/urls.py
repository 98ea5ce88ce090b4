from django.urls import path

from . import api, views

api_urlpatterns = [
    path("activity/", api.ActivityListApi.as_view(), name="api-activity"),
]

urlpatterns = [
    path("", views.activity_list, name="activity-list"),
]
