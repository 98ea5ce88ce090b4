from django.urls import path

from . import api, views

api_urlpatterns = [
    path("datasets/", api.DatasetListApi.as_view(), name="api-dataset-list"),
    path("datasets/uploads/", api.UploadStartApi.as_view(), name="api-dataset-upload-start"),
    path("datasets/<int:dataset_id>/", api.DatasetDetailApi.as_view(), name="api-dataset-detail"),
    path("datasets/<int:dataset_id>/upload/", api.UploadChunkApi.as_view(), name="api-dataset-upload"),
    path("datasets/<int:dataset_id>/images/", api.DatasetImagesApi.as_view(), name="api-dataset-images"),
]

urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    path("new/", views.dataset_new, name="dataset-new"),
    path("sample/", views.dataset_sample, name="dataset-sample"),
    path("<int:dataset_id>/", views.dataset_detail, name="dataset-detail"),
    path("<int:dataset_id>/rename/", views.dataset_rename, name="dataset-rename"),
    path("<int:dataset_id>/delete/", views.dataset_delete, name="dataset-delete"),
    path("<int:dataset_id>/images/<int:image_id>/thumbnail/", views.dataset_thumbnail, name="dataset-thumbnail"),
]
