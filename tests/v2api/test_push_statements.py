"""How many statements a push costs, step by step, as skopeo pushes (HEAD, POST, PATCH with the
whole blob, an empty PUT ?digest=, then the manifest by tag) with a bearer token: each one is a
round trip to Postgres on the path every CI pipeline takes (issue 18). A statement added to a
step fails this test; a statement removed updates it. BEGIN and COMMIT count, as they cost a
round trip each. The health check of the connection costs none (registry_ui/postgresql), and
the fast path's HEAD is not taken by the test client.

Before issue 18's work: HEAD 2, POST 5, PATCH 5, PUT 13, manifest PUT 19. Of the manifest PUT's 11,
two are the lookups of what the push sets off: the project's webhooks (in the transaction, the
outbox) and its on-push replication rules (after the commit)."""

import json
import os
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.scopes import PULL, PUSH, repository_scope
from oci import media_types
from tests.conftest import bearer_auth, digest_of, path_of

# Real commits: in a test's own transaction, each atomic block would be a savepoint instead.
pytestmark = pytest.mark.django_db(transaction=True)

NAME = "team/app"


def push_counting_statements(client: Client, tag: str) -> dict[str, list[str]]:
    """Push a config and two layers, then the manifest; the SQL of each request, by step (the
    steps of every blob are the same: the last blob's are kept)."""
    statements: dict[str, list[str]] = {}

    def step(label: str, method: str, path: str, expected_status: int, **request: Any) -> Any:
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(path, **request)
        assert response.status_code == expected_status, response.content
        statements[label] = [query["sql"] for query in queries.captured_queries]
        return response

    descriptors = []
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": tag}).encode()
    for blob in (config, os.urandom(1000), os.urandom(2000)):
        digest = digest_of(blob)
        step("HEAD", "head", f"/v2/{NAME}/blobs/{digest}", 404)
        started = step("POST", "post", f"/v2/{NAME}/blobs/uploads/", 202)
        location = path_of(started["Location"])
        patched = step("PATCH", "patch", location, 202, data=blob, content_type="application/octet-stream")
        step("PUT", "put", path_of(patched["Location"]) + f"?digest={digest}", 201)
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": len(blob)})
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": {**descriptors[0], "mediaType": "application/vnd.oci.image.config.v1+json"},
        "layers": descriptors[1:],
    }
    path = f"/v2/{NAME}/manifests/{tag}"
    step("manifest PUT", "put", path, 201, data=json.dumps(manifest), content_type=media_types.OCI_MANIFEST)
    return statements


def test_a_push_costs_these_statements_per_step(admin_user: User) -> None:
    client = Client(HTTP_AUTHORIZATION=bearer_auth(admin_user, repository_scope(NAME, PULL, PUSH)))
    # The first push creates the project and the repository, and prepares the lookups.
    push_counting_statements(client, "v1")

    statements = push_counting_statements(client, "v2")

    counts = {label: len(sql) for label, sql in statements.items()}
    assert counts == {"HEAD": 2, "POST": 2, "PATCH": 5, "PUT": 9, "manifest PUT": 11}, json.dumps(statements, indent=1)
