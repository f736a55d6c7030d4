"""A layer a client skipped because HEAD said it exists is not collected before the manifest that
needs it arrives: docker and skopeo HEAD each layer, skip the ones found, upload the others (which
may take longer than the collector's grace window), then PUT the manifest. A HEAD that answers 200
refreshes an old link, on the full stack and on the fast path alike, and the common HEAD of a
recent link stays one query."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.scopes import PULL, PUSH, repository_scope
from oci import media_types
from tests.conftest import PushBlob, bearer_auth, digest_of, manifest_bytes
from tests.v2api.test_fast_reads import fast_answer
from v2api.models import RepositoryBlob
from v2api.services.gc import collect_garbage

pytestmark = pytest.mark.django_db

NAME = "team/app"
LAYER = b"base layer"


def head_on_full_stack(client: Client, admin_user: User, path: str) -> int:
    return client.head(path).status_code


def head_on_fast_path(client: Client, admin_user: User, path: str) -> int:
    answer = fast_answer("HEAD", path, {"Authorization": bearer_auth(admin_user, repository_scope(NAME, PULL, PUSH))})
    assert answer is not None, "the fast path declined a plain blob HEAD"
    return int(answer.status.split()[0])


HEADS = pytest.mark.parametrize("head", [head_on_full_stack, head_on_fast_path], ids=["full stack", "fast path"])


@HEADS
def test_a_layer_skipped_after_head_outlives_a_collection_until_its_manifest_arrives(
    client: Client, admin_user: User, push_blob: PushBlob, head: Callable[[Client, User, str], int]
) -> None:
    config, layer = push_blob(NAME, b"{}"), push_blob(NAME, LAYER)
    # Pushed long ago (by an earlier image whose manifest was deleted since): links past the grace window.
    grace = timedelta(seconds=settings.REGISTRY_GC_GRACE_SECONDS)
    RepositoryBlob.objects.update(linked_at=timezone.now() - grace - timedelta(hours=1))

    # The client's new push: each blob HEADed, found, so not uploaded again.
    assert [head(client, admin_user, f"/v2/{NAME}/blobs/{digest}") for digest in (config, layer)] == [200, 200]
    # While its other layers upload, the scheduled collection runs.
    collect_garbage(grace)
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": len(LAYER)}],
    }
    response = client.put(
        f"/v2/{NAME}/manifests/v2", data=manifest_bytes(manifest), content_type=media_types.OCI_MANIFEST
    )

    assert response.status_code == 201, response.content
    assert response["Docker-Content-Digest"] == digest_of(manifest_bytes(manifest))


@HEADS
def test_a_head_writes_only_when_the_link_is_older_than_half_the_grace_window(
    client: Client, admin_user: User, push_blob: PushBlob, head: Callable[[Client, User, str], int]
) -> None:
    digest = push_blob(NAME, b"layer")
    path = f"/v2/{NAME}/blobs/{digest}"
    head(client, admin_user, path)  # prepares the lookup on this connection
    half_window = timedelta(seconds=settings.REGISTRY_GC_GRACE_SECONDS / 2)

    def head_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert head(client, admin_user, path) == 200
        return [
            query["sql"].split()[0]
            for query in queries.captured_queries
            if query["sql"].startswith("EXECUTE find_blob") or "v2api_repositoryblob" in query["sql"]
        ]

    RepositoryBlob.objects.update(linked_at=timezone.now() - half_window + timedelta(minutes=1))
    assert head_queries() == ["EXECUTE"]
    RepositoryBlob.objects.update(linked_at=timezone.now() - half_window - timedelta(minutes=1))
    assert head_queries() == ["EXECUTE", "UPDATE"]
    assert head_queries() == ["EXECUTE"]
    linked_at: Any = RepositoryBlob.objects.get().linked_at
    assert timezone.now() - linked_at < timedelta(minutes=1)


def test_a_head_by_a_caller_who_may_only_pull_leaves_an_old_link_as_it_is(
    client: Client, admin_user: User, push_blob: PushBlob
) -> None:
    digest = push_blob(NAME, b"layer")
    long_ago = timezone.now() - timedelta(seconds=settings.REGISTRY_GC_GRACE_SECONDS) - timedelta(hours=1)
    RepositoryBlob.objects.update(linked_at=long_ago)
    pull_only = {"Authorization": bearer_auth(admin_user, repository_scope(NAME, PULL))}

    answer = fast_answer("HEAD", f"/v2/{NAME}/blobs/{digest}", pull_only)
    full = client.head(f"/v2/{NAME}/blobs/{digest}", headers=pull_only)

    assert answer is not None and answer.status == "200 OK"
    assert full.status_code == 200
    # Only a push needs its layers kept: a reader cannot keep unreferenced bytes alive.
    assert RepositoryBlob.objects.get().linked_at == long_ago
