from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.api import MeApi, TokenObtainApi
from apps.datasets.urls import api_urlpatterns as dataset_api_patterns
from apps.front import views as front_views
from apps.live.api import WorkerPingApi
from apps.runs.urls import api_urlpatterns as run_api_patterns

api_patterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="api-token"),
    path("me/", MeApi.as_view(), name="api-me"),
    path("worker/ping/", WorkerPingApi.as_view(), name="api-worker-ping"),
    *dataset_api_patterns,
    *run_api_patterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("", front_views.home, name="home"),
    path("accounts/", include("apps.accounts.urls")),
    path("datasets/", include("apps.datasets.urls")),
    path("runs/", include("apps.runs.urls")),
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
]
