"""oras-py against the live registry: chunked artifact pushes, `subject` and the referrers API."""

import json
import os
import re
import subprocess
from pathlib import Path

import oras.client
import oras.oci
import requests

from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import OCI_INDEX, OCI_MANIFEST, build_image

CHUNK_SIZE = 1024 * 1024
SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"


def oras_client(
    live_registry: LiveRegistry, repository: str | None = None, actions: str = ""
) -> oras.client.OrasClient:
    """An oras client logged in as the administrator, as `oras login` does.

    `login()` keeps the credentials for the token service and writes them to a docker config
    file, here one in the registry's temporary directory rather than ~/.docker/config.json.

    oras-py's token reuse bug (CLIENTS.md): once it holds a token it answers every later 401 with
    that same token, so a push that starts with a blob HEAD gets a pull-only token and then its
    POST to the uploads fails with 401 insufficient_scope, twice, and the push with it. For pushes
    and deletes the test therefore asks the token service itself for `actions` on `repository`,
    with the same credentials, and hands the token to oras (`set_token_auth`). Pulls and tag
    listings need one scope only, and oras runs the token flow itself.
    """
    client = oras.client.OrasClient(hostname=live_registry.host, insecure=True)
    username, password = live_registry.admin_credentials
    client.login(
        username=username,
        password=password,
        hostname=live_registry.host,
        config_path=str(live_registry.data_dir / "oras" / "config.json"),
    )
    if repository is not None:
        client.auth.set_token_auth(bearer_token(live_registry, f"repository:{repository}:{actions}"))
    return client


def bearer_token(live_registry: LiveRegistry, scope: str) -> str:
    """A token from the realm and service that the registry's challenge names."""
    challenged = requests.get(f"{live_registry.url}/v2/", timeout=10)
    assert challenged.status_code == 401
    scheme, _, parameters = challenged.headers["WWW-Authenticate"].partition(" ")
    assert scheme == "Bearer"
    challenge = requests.utils.parse_dict_header(parameters)
    issued = requests.get(
        challenge["realm"],
        params={"service": challenge["service"], "scope": scope},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert issued.status_code == 200, issued.text
    return str(issued.json()["token"])


def push_artifact(
    live_registry: LiveRegistry,
    target: str,
    files: list[Path],
    artifact_type: str | None = None,
    subject: oras.oci.Subject | None = None,
    do_chunked: bool = False,
) -> requests.Response:
    """`oras push`; oras-py has no artifactType option, so the type rides on the config's media
    type, which the referrers API reports in its place (image-spec "artifact guidance")."""
    config: str | None = None
    if artifact_type is not None:
        config_path = files[0].parent / "config.json"
        config_path.write_text("{}")
        config = f"{config_path}:{artifact_type}"
    repository = target.split(":")[0]
    return oras_client(live_registry, repository, "pull,push").push(
        target=f"{live_registry.host}/{target}",
        files=[str(path) for path in files],
        manifest_config=config,
        subject=subject,
        do_chunked=do_chunked,
        chunk_size=CHUNK_SIZE,
        disable_path_validation=True,
        quiet=True,
    )


def patches_logged(live_registry: LiveRegistry, repository: str) -> list[int]:
    """Status of every PATCH to an upload of `repository` in the server's access log."""
    log = (live_registry.data_dir / "server.log").read_text(errors="replace")
    pattern = re.compile(rf'"PATCH /v2/{re.escape(repository)}/blobs/uploads/\S+ HTTP/[\d.]+" (\d{{3}}) ')
    return [int(match[1]) for match in pattern.finditer(log)]


def test_oras_pushes_a_file_in_several_chunks_and_pulls_it_back(live_registry: LiveRegistry, tmp_path: Path) -> None:
    payload = os.urandom(CHUNK_SIZE * 5 // 2)
    (tmp_path / "push").mkdir()
    artifact = tmp_path / "push" / "model.bin"
    artifact.write_bytes(payload)

    response = push_artifact(live_registry, "oras/chunked:v1", [artifact], do_chunked=True)

    assert response.status_code == 201
    # Three PATCHes, each with `Content-Range: <start>-<end>` and no `bytes ` unit.
    assert patches_logged(live_registry, "oras/chunked") == [202, 202, 202]
    pulled = oras_client(live_registry).pull(
        target=f"{live_registry.host}/oras/chunked:v1", outdir=str(tmp_path / "pull")
    )
    assert [Path(path).name for path in pulled] == ["model.bin"]
    assert Path(pulled[0]).read_bytes() == payload


def test_an_artifact_pushed_with_a_subject_is_listed_among_its_referrers(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1")
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            f"--dest-creds={live_registry.admin_creds}",
            image.reference,
            f"docker://{live_registry.host}/oras/signed:v1",
        ],
        check=True,
        capture_output=True,
    )
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=image.manifest.digest, size=image.manifest.size)
    (tmp_path / "sbom").mkdir()
    (tmp_path / "sbom" / "sbom.json").write_text(json.dumps({"packages": ["busybox"]}))
    (tmp_path / "signature").mkdir()
    (tmp_path / "signature" / "signature.sig").write_bytes(os.urandom(256))

    sbom = push_artifact(
        live_registry, "oras/signed:sbom", [tmp_path / "sbom" / "sbom.json"], SBOM_TYPE, subject=subject
    )
    signature = push_artifact(
        live_registry, "oras/signed:signature", [tmp_path / "signature" / "signature.sig"], SIGNATURE_TYPE, subject
    )

    for pushed in (sbom, signature):
        assert pushed.status_code == 201
        assert pushed.headers["OCI-Subject"] == image.manifest.digest
    referrers_url = f"{live_registry.url}/v2/oras/signed/referrers/{image.manifest.digest}"
    listed = requests.get(referrers_url, auth=live_registry.admin_credentials, timeout=10)
    assert listed.status_code == 200
    assert listed.headers["Content-Type"] == OCI_INDEX
    referrers = {entry["digest"]: entry for entry in listed.json()["manifests"]}
    assert referrers.keys() == {sbom.headers["Docker-Content-Digest"], signature.headers["Docker-Content-Digest"]}
    assert referrers[sbom.headers["Docker-Content-Digest"]]["artifactType"] == SBOM_TYPE
    assert referrers[sbom.headers["Docker-Content-Digest"]]["mediaType"] == OCI_MANIFEST
    assert referrers[signature.headers["Docker-Content-Digest"]]["artifactType"] == SIGNATURE_TYPE

    filtered = requests.get(
        referrers_url, params={"artifactType": SBOM_TYPE}, auth=live_registry.admin_credentials, timeout=10
    )
    assert filtered.status_code == 200
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [entry["digest"] for entry in filtered.json()["manifests"]] == [sbom.headers["Docker-Content-Digest"]]


def test_an_artifact_can_refer_to_another_artifact(live_registry: LiveRegistry, tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.txt").write_text("all clear\n")
    (tmp_path / "attestation").mkdir()
    (tmp_path / "attestation" / "attestation.json").write_text("{}")
    base = push_artifact(live_registry, "oras/chain:report", [tmp_path / "report" / "report.txt"])
    base_digest = base.headers["Docker-Content-Digest"]
    # oras-py's Subject.from_manifest re-serialises the manifest and so gets a different digest;
    # the descriptor is built from what the registry said instead.
    manifest = requests.get(
        f"{live_registry.url}/v2/oras/chain/manifests/{base_digest}",
        headers={"Accept": OCI_MANIFEST},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=base_digest, size=len(manifest.content))

    referrer = push_artifact(
        live_registry, "oras/chain:attestation", [tmp_path / "attestation" / "attestation.json"], SBOM_TYPE, subject
    )

    assert referrer.headers["OCI-Subject"] == base_digest
    listed = requests.get(
        f"{live_registry.url}/v2/oras/chain/referrers/{base_digest}", auth=live_registry.admin_credentials, timeout=10
    ).json()
    assert [entry["digest"] for entry in listed["manifests"]] == [referrer.headers["Docker-Content-Digest"]]
    empty = requests.get(
        f"{live_registry.url}/v2/oras/chain/referrers/{referrer.headers['Docker-Content-Digest']}",
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert empty.status_code == 200
    assert empty.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def test_oras_deletes_a_tag_by_deleting_the_manifest_it_names(live_registry: LiveRegistry, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("release notes\n")
    pushed = push_artifact(live_registry, "oras/deleted:v1", [tmp_path / "notes" / "notes.txt"])
    client = oras_client(live_registry, "oras/deleted", "pull,delete")
    assert client.get_tags(f"{live_registry.host}/oras/deleted") == ["v1"]

    # oras HEADs the tag for its digest, then DELETEs the manifest by digest and expects 202.
    assert client.delete_tag(f"{live_registry.host}/oras/deleted", "v1") is True

    assert client.get_tags(f"{live_registry.host}/oras/deleted") == []
    gone = requests.get(
        f"{live_registry.url}/v2/oras/deleted/manifests/{pushed.headers['Docker-Content-Digest']}",
        headers={"Accept": OCI_MANIFEST},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert gone.status_code == 404
