"""Routes of the distribution API: the table in oci/request_edge.py (names and paths, shared with
the fast path, the access log and the metrics) mapped to their views. A repository name is
checked against the grammar in the view (a bad name is NAME_INVALID, not a 404)."""

from django.urls import re_path

from oci import request_edge as edge
from v2api.views.base import ApiVersionView, UnknownEndpointView
from v2api.views.blobs import BlobView
from v2api.views.catalog import CatalogView
from v2api.views.manifests import ManifestView, ReferrersView
from v2api.views.tags import TagListView
from v2api.views.uploads import UploadStartView, UploadView

app_name = edge.V2_NAMESPACE

_VIEWS = {
    edge.BASE: ApiVersionView,
    edge.CATALOG: CatalogView,
    edge.TAGS: TagListView,
    edge.MANIFEST: ManifestView,
    edge.UPLOAD_START: UploadStartView,
    edge.UPLOAD: UploadView,
    edge.BLOB: BlobView,
    edge.REFERRERS: ReferrersView,
    edge.UNKNOWN: UnknownEndpointView,
}

urlpatterns = [re_path(route.pattern, _VIEWS[route].as_view(), name=route.url_name) for route in edge.ROUTES]
