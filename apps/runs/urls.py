from django.urls import path

from . import api, sharing_api, views

api_urlpatterns = [
    path("runs/", api.RunListApi.as_view(), name="api-run-list"),
    path("runs/estimate/", api.RunEstimateApi.as_view(), name="api-run-estimate"),
    path("runs/<int:run_id>/", api.RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<int:run_id>/result/", api.RunResultApi.as_view(), name="api-run-result"),
    path("runs/<int:run_id>/events/", api.RunEventsApi.as_view(), name="api-run-events"),
    path("runs/<int:run_id>/trials/", api.RunTrialsApi.as_view(), name="api-run-trials"),
    path("runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<int:run_id>/retry/", api.RunRetryApi.as_view(), name="api-run-retry"),
    path("runs/<int:run_id>/extend/", api.RunExtendApi.as_view(), name="api-run-extend"),
    path("runs/<int:run_id>/artifacts/<str:kind>/", api.RunArtifactApi.as_view(), name="api-run-artifact"),
    path("runs/<int:run_id>/predict/", api.RunPredictApi.as_view(), name="api-run-predict"),
    path("runs/<int:run_id>/notes/", api.NoteListApi.as_view(), name="api-run-notes"),
    path("runs/<int:run_id>/notes/<int:note_id>/", api.NoteDetailApi.as_view(), name="api-run-note"),
    path("runs/<int:run_id>/shares/", sharing_api.ShareLinkListApi.as_view(), name="api-run-shares"),
    path("runs/<int:run_id>/shares/<int:link_id>/", sharing_api.ShareLinkDetailApi.as_view(), name="api-run-share"),
    path("shared/<str:token>/", sharing_api.SharedRunApi.as_view(), name="api-shared-run"),
    path("shared/<str:token>/result/", sharing_api.SharedResultApi.as_view(), name="api-shared-result"),
    path("shared/<str:token>/events/", sharing_api.SharedEventsApi.as_view(), name="api-shared-events"),
    path("shared/<str:token>/artifacts/<str:kind>/", sharing_api.SharedArtifactApi.as_view(),
         name="api-shared-artifact"),
]

urlpatterns = [
    path("", views.run_list, name="run-list"),
    path("new/", views.run_new, name="run-new"),
    path("compare/", views.run_compare, name="run-compare"),
    path("<int:run_id>/", views.run_detail, name="run-detail"),
    path("<int:run_id>/notes/", views.run_notes, name="run-notes"),
    path("<int:run_id>/notes/<int:note_id>/delete/", views.run_note_delete, name="run-note-delete"),
    path("<int:run_id>/shares/", views.run_share_create, name="run-share-create"),
    path("<int:run_id>/shares/<int:link_id>/revoke/", views.run_share_revoke, name="run-share-revoke"),
]

# Public: the secret token in the path is the whole permission.
share_urlpatterns = [
    path("<str:token>/", views.run_shared, name="run-shared"),
]
