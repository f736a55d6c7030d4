"""Routes of the distribution API. A repository name may contain slashes, so each route
anchors on the keyword after it; the name itself is checked against the grammar in the view
(a bad name is NAME_INVALID, not a 404)."""

from django.urls import re_path

from v2api.views.base import ApiVersionView, UnknownEndpointView
from v2api.views.blobs import BlobView
from v2api.views.catalog import CatalogView
from v2api.views.manifests import ManifestView, ReferrersView
from v2api.views.tags import TagListView
from v2api.views.uploads import UploadStartView, UploadView

app_name = "v2"

urlpatterns = [
    re_path(r"^$", ApiVersionView.as_view(), name="base"),
    re_path(r"^_catalog$", CatalogView.as_view(), name="catalog"),
    re_path(r"^(?P<name>.+)/tags/list$", TagListView.as_view(), name="tags"),
    re_path(r"^(?P<name>.+)/manifests/(?P<reference>[^/]+)$", ManifestView.as_view(), name="manifest"),
    re_path(r"^(?P<name>.+)/blobs/uploads/?$", UploadStartView.as_view(), name="upload-start"),
    re_path(r"^(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)$", UploadView.as_view(), name="upload"),
    re_path(r"^(?P<name>.+)/blobs/(?P<digest>[^/]+)$", BlobView.as_view(), name="blob"),
    re_path(r"^(?P<name>.+)/referrers/(?P<digest>[^/]+)$", ReferrersView.as_view(), name="referrers"),
    re_path(r"^.*$", UnknownEndpointView.as_view(), name="unknown"),
]
