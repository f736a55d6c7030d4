"""python-dxf against the live registry: the one common client that deletes a blob."""

import hashlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import pytest
import requests
from dxf import DXF, DXFBase

from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import OCI_MANIFEST, build_image


def dxf_client(live_registry: LiveRegistry, repository: str) -> DXF:
    """A DXF logged in as the administrator through its `auth` callback, called on every 401.

    dxf's own `authenticate()` refuses plain HTTP (`DXFAuthInsecureError: Auth requires HTTPS`
    when `insecure=True`) and rewrites the realm to https:// in any case, so the callback does
    what it would: it asks the realm of the challenge for a token with the challenge's service
    and scope, sending Basic credentials, and hands the token to dxf.
    """
    username, password = live_registry.admin_credentials

    def authenticate(client: DXFBase, response: requests.Response) -> None:
        scheme, _, parameters = response.headers["WWW-Authenticate"].partition(" ")
        assert scheme == "Bearer", response.headers["WWW-Authenticate"]
        challenge = requests.utils.parse_dict_header(parameters)
        issued = requests.get(
            challenge["realm"],
            params={"service": challenge["service"], "scope": challenge["scope"]},
            auth=(username, password),
            timeout=10,
        )
        issued.raise_for_status()
        client.token = issued.json()["token"]

    return DXF(live_registry.host, repository, auth=authenticate, insecure=True)


def test_a_blob_deleted_with_dxf_is_gone_from_that_repository_only(live_registry: LiveRegistry, tmp_path: Path) -> None:
    payload = os.urandom(300 * 1024)
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()
    (tmp_path / "blob").write_bytes(payload)
    kept = dxf_client(live_registry, "dxf/kept")
    deleted = dxf_client(live_registry, "dxf/deleted")
    # dxf uploads monolithically: POST, then PUT ?digest= carrying the whole body.
    assert kept.push_blob(str(tmp_path / "blob")) == digest
    assert deleted.push_blob(str(tmp_path / "blob")) == digest
    assert deleted.blob_size(digest) == len(payload)

    deleted.del_blob(digest)

    response = requests.head(
        f"{live_registry.url}/v2/dxf/deleted/blobs/{digest}", auth=live_registry.admin_credentials, timeout=10
    )
    assert response.status_code == 404
    with pytest.raises(requests.HTTPError) as raised:
        deleted.blob_size(digest)
    assert raised.value.response is not None
    assert raised.value.response.status_code == 404
    # The other repository still serves it; dxf checks the digest of what it pulls.
    assert b"".join(cast(Iterable[bytes], kept.pull_blob(digest))) == payload


def test_dxf_lists_every_tag_following_the_next_page_links(live_registry: LiveRegistry, tmp_path: Path) -> None:
    image = build_image(tmp_path / "source", tag="v1")
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            f"--dest-creds={live_registry.admin_creds}",
            image.reference,
            f"docker://{live_registry.host}/dxf/paged:v1",
        ],
        check=True,
        capture_output=True,
    )
    manifest = (image.path / "blobs" / "sha256" / image.manifest.digest.removeprefix("sha256:")).read_bytes()
    tags = ["v1", "v2", "v3", "v4", "v5"]
    for tag in tags[1:]:
        response = requests.put(
            f"{live_registry.url}/v2/dxf/paged/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
            auth=live_registry.admin_credentials,
            timeout=10,
        )
        assert response.status_code == 201

    # Two tags a page: dxf follows the `Link: <…?n=2&last=v2>; rel="next"` header twice.
    listed = dxf_client(live_registry, "dxf/paged").list_aliases(batch_size=2)

    assert listed == tags
