from django.urls import path

from . import api, views

api_urlpatterns = [
    path("runs/", api.RunListApi.as_view(), name="api-run-list"),
    path("runs/<int:run_id>/", api.RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<int:run_id>/result/", api.RunResultApi.as_view(), name="api-run-result"),
    path("runs/<int:run_id>/events/", api.RunEventsApi.as_view(), name="api-run-events"),
    path("runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<int:run_id>/extend/", api.RunExtendApi.as_view(), name="api-run-extend"),
    path("runs/<int:run_id>/artifacts/<str:kind>/", api.RunArtifactApi.as_view(), name="api-run-artifact"),
    path("runs/<int:run_id>/predict/", api.RunPredictApi.as_view(), name="api-run-predict"),
]

urlpatterns = [
    path("", views.run_list, name="run-list"),
    path("new/", views.run_new, name="run-new"),
    path("compare/", views.run_compare, name="run-compare"),
    path("<int:run_id>/", views.run_detail, name="run-detail"),
]
