"""Where blob bytes live: the store REGISTRY_STORAGE names; no database here.

    filesystem   v2api/storage/filesystem.py, under REGISTRY_STORAGE_ROOT (the default)

Each implements v2api/storage/base.py and keeps the layout of v2api/storage/paths.py.
"""

import threading

from django.conf import settings

from v2api.storage.base import BlobStore, ChunkOutOfOrder, StagedBlob, UploadMissing

__all__ = ["BlobStore", "ChunkOutOfOrder", "StagedBlob", "UploadMissing", "store"]

_stores: dict[tuple[object, ...], BlobStore] = {}
_stores_lock = threading.Lock()


def store() -> BlobStore:
    """The blob store the settings name, made once per configuration."""
    key = (settings.REGISTRY_STORAGE,)
    with _stores_lock:
        found = _stores.get(key)
        if found is None:
            from v2api.storage.filesystem import FilesystemStore

            found = FilesystemStore()
            _stores[key] = found
    return found
