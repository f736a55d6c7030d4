"""Where blob bytes live: the store REGISTRY_STORAGE names; no database here.

    filesystem   v2api/storage/filesystem.py, under REGISTRY_STORAGE_ROOT (the default)
    s3           v2api/storage/s3.py, in REGISTRY_S3_BUCKET (AWS S3, Ceph RGW, MinIO, SeaweedFS)

Both implement v2api/storage/base.py and keep the layout of v2api/storage/paths.py.
"""

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from v2api.storage.base import BlobStore, ChunkOutOfOrder, StagedBlob, UploadMissing

__all__ = ["BlobStore", "ChunkOutOfOrder", "StagedBlob", "UploadMissing", "store"]

_stores: dict[tuple[object, ...], BlobStore] = {}
_stores_lock = threading.Lock()


def store(kind: str | None = None) -> BlobStore:
    """The blob store the settings name (or the `kind` named, for `manage.py migratestorage`),
    made once per configuration.

    The backends are imported here, not at the top: a filesystem registry never loads boto3.
    """
    kind = kind or settings.REGISTRY_STORAGE
    if kind == "s3":
        if not settings.REGISTRY_S3_BUCKET:
            raise ImproperlyConfigured("blobs in S3 need REGISTRY_S3_BUCKET")
        key: tuple[object, ...] = ("s3", settings.REGISTRY_S3_BUCKET, settings.REGISTRY_S3_PREFIX)
    else:
        key = ("filesystem",)
    with _stores_lock:
        found = _stores.get(key)
        if found is None:
            if key[0] == "s3":
                from v2api.storage.s3 import S3Store

                found = S3Store(settings.REGISTRY_S3_BUCKET, settings.REGISTRY_S3_PREFIX)
            else:
                from v2api.storage.filesystem import FilesystemStore

                found = FilesystemStore()
            _stores[key] = found
    return found
