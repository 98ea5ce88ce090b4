from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.urls import api_urlpatterns as account_api_patterns
from apps.activity.urls import api_urlpatterns as activity_api_patterns
from apps.datasets.urls import api_urlpatterns as dataset_api_patterns
from apps.front import views as front_views
from apps.live.api import WorkerPingApi
from apps.runs.urls import api_urlpatterns as run_api_patterns
from apps.runs.urls import share_urlpatterns

api_patterns = [
    *account_api_patterns,
    path("worker/ping/", WorkerPingApi.as_view(), name="api-worker-ping"),
    *dataset_api_patterns,
    *run_api_patterns,
    *activity_api_patterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("", front_views.home, name="home"),
    path("accounts/", include("apps.accounts.urls")),
    path("datasets/", include("apps.datasets.urls")),
    path("runs/", include("apps.runs.urls")),
    path("share/", include(share_urlpatterns)),
    path("activity/", include("apps.activity.urls")),
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
]
