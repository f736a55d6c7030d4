"""Shared fixtures. Tests run on the real local Postgres (never SQLite, never a mock)."""

import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from accounts import directory_breaker
from accounts.models import Project
from accounts.scopes import Scope
from accounts.services import credentials, last_seen
from accounts.tokens import issue_access_token, keyring
from audit import pulls
from oci import media_types
from oci.digests import Digest
from oci.names import project_name_of
from registry_ui.celery import app as celery_app
from registry_ui.directory_settings import directory_settings
from tests.directory import Directory, running_directory
from tests.migrations import migrate_to_the_latest
from tests.seaweedfs import SeaweedFS, running_seaweedfs
from tests.tcp_proxy import TcpProxy, tcp_proxy
from tests.webhooks.receiver import Receiver
from v2api.models import Manifest, Repository


def pytest_configure(config: pytest.Config) -> None:
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(
            "the tests run on Postgres: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/harbor_lite "
            "(scripts/test does)",
            returncode=2,
        )


# The processes the tests start (live registries, Celery workers, the deployed stack) inherit it;
# this process's settings have been read already, so no_recycle_bin sets those.
os.environ["REGISTRY_RECYCLE_SECONDS"] = "0"


@pytest.fixture(autouse=True)
def no_recycle_bin(settings) -> None:  # type: ignore[no-untyped-def]
    """Deleting frees at the next collection, as the registry without a recycle bin does: the
    tests of the bin (tests/*/test_recycle_bin.py) turn it on, for a project (the e2e ones) or
    the registry."""
    settings.REGISTRY_RECYCLE_SECONDS = 0


@pytest.fixture(autouse=True)
def storage_root(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """Every test gets an empty blob store of its own."""
    root = tmp_path / "storage"
    settings.REGISTRY_STORAGE_ROOT = root
    return root


# The bucket the tests' registries keep their blobs in, each test under a prefix of its own.
S3_BUCKET = "harbor-lite-tests"


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """A real S3 server, SeaweedFS, started once per session on free ports (tests/seaweedfs.py)."""
    with running_seaweedfs() as server:
        server.create_bucket(S3_BUCKET)
        yield server


@dataclass(frozen=True)
class S3Storage:
    server: SeaweedFS
    bucket: str
    prefix: str

    def objects(self, under: str = "") -> dict[str, int]:
        """The keys (below this test's prefix) and sizes the bucket holds under `under`."""
        found = self.server.objects(self.bucket, f"{self.prefix}/{under}")
        return {key.removeprefix(f"{self.prefix}/"): size for key, size in found.items()}

    def multipart_uploads(self) -> list[str]:
        return self.server.multipart_uploads(self.bucket, f"{self.prefix}/")


@pytest.fixture
def s3_storage(seaweedfs: SeaweedFS, settings, monkeypatch: pytest.MonkeyPatch) -> S3Storage:  # type: ignore[no-untyped-def]
    """The registry keeps its blobs in the session's bucket, under a prefix of this test's own,
    configured as an operator would: REGISTRY_STORAGE=s3 and boto3's own variables."""
    for name, value in seaweedfs.environment.items():
        monkeypatch.setenv(name, value)
    prefix = f"test-{uuid.uuid4().hex}"
    settings.REGISTRY_STORAGE = "s3"
    settings.REGISTRY_S3_BUCKET = S3_BUCKET
    settings.REGISTRY_S3_PREFIX = prefix
    return S3Storage(seaweedfs, S3_BUCKET, prefix)


@pytest.fixture(params=["filesystem", "s3"])
def each_blob_store(request: pytest.FixtureRequest) -> str:
    """Run the test once with blobs on disk and once in a bucket; the test sees no difference."""
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return str(request.param)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    """The slow default hasher costs ~0.2 s a password; tests check logins, not hashing strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def signing_keys(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """Each test signs tokens with keys of its own, made on first use."""
    directory = tmp_path / "keys"
    settings.REGISTRY_SIGNING_KEY_DIR = directory
    keyring.refresh()
    return directory


@pytest.fixture(autouse=True)
def clean_login_counters(settings) -> None:  # type: ignore[no-untyped-def]
    """Failed-login counters live in Redis; one test's failures must not throttle the next.

    A key prefix of its own per test, not a FLUSHDB: the same Redis database carries Celery's
    queues, and other test sessions may be using it at the same time.
    """
    settings.CACHES = {
        name: {**options, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for name, options in settings.CACHES.items()
    }


@pytest.fixture(autouse=True)
def no_remembered_logins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Basic logins are remembered per process; one test's users (same names, other rows) must not
    cost the next an extra look-up, which the query-count tests would see."""
    monkeypatch.setattr(credentials, "_remembered", credentials._RememberedLogins())


@pytest.fixture(autouse=True)
def closed_directory_breaker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The directory breaker lives in the cache (a prefix per test) and, while Redis is down, in
    the process: one test's outage must not fail the next one's logins."""
    monkeypatch.setattr(directory_breaker, "_in_this_process", directory_breaker._ProcessCache())


@pytest.fixture(autouse=True)
def nobody_seen_lately(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process skips writing "last seen" for accounts it recorded lately; not across tests."""
    monkeypatch.setattr(last_seen, "_seen_lately", last_seen._SeenLately())


@pytest.fixture(autouse=True)
def empty_pull_buffer() -> Iterator[None]:
    """Every manifest GET buffers a pull event (audit/pulls.py): each test starts with an empty
    buffer of its own, and leaves none behind in the Redis database later sessions use. The key
    is read each time: it names the database, which is the test database once a test set it up."""

    # Read now: a test may point REDIS_URL elsewhere, and the setting is restored only after this ends.
    url = django_settings.REDIS_URL

    def empty() -> None:
        pulls._buffer = None
        pulls._outbox.lines.clear()
        pulls._outbox.unsent.clear()
        if url:
            with redis.Redis.from_url(url) as client:
                client.delete(pulls.buffer_key())

    # The tests send explicitly (flush_pulls), on the test's connection: a sending thread would
    # write through a connection of its own, outside the test's transaction.
    pulls.run_sender = False
    empty()
    yield
    empty()


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:  # type: ignore[no-untyped-def]
    """An HTTP receiver of webhooks on loopback (tests/webhooks/receiver.py), which webhooks may
    reach: loopback is refused unless allowed."""
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def redis_link(settings) -> Iterator[TcpProxy]:  # type: ignore[no-untyped-def]
    """The cache reaches Redis only through a link the test cuts or stalls."""
    url = urlsplit(django_settings.REDIS_URL)
    with tcp_proxy(url.hostname or "127.0.0.1", url.port or 6379) as link:
        location = url._replace(netloc=f"127.0.0.1:{link.port}").geturl()
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": location}}
        yield link


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    """A real slapd (tests/directory.py) for the session: people, groups, one disabled person."""
    with running_directory(tmp_path_factory.mktemp("slapd")) as started:
        yield started


@pytest.fixture
def with_directory(directory: Directory, settings, monkeypatch: pytest.MonkeyPatch) -> Directory:  # type: ignore[no-untyped-def]
    """This process configured for `directory` as an operator would: its environment read by
    registry_ui/directory_settings.py into the settings."""
    for name, value in directory.environment().items():
        monkeypatch.setenv(name, value)
    for name, value in directory_settings().items():
        setattr(settings, name, value)
    return directory


PASSWORD = "correct horse battery staple"


def basic_auth(username: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def bearer_auth(user: User | None, *scopes: Scope) -> str:
    """An Authorization header with a token granting exactly `scopes`, as /auth/token would issue it."""
    return "Bearer " + issue_access_token(user.username if user else "", list(scopes)).token


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser("root", password=PASSWORD, email="")


@pytest.fixture
def client(admin_user: User) -> Client:
    """A /v2/ client logged in (HTTP Basic) as a system administrator, who may do anything."""
    return Client(HTTP_AUTHORIZATION=basic_auth(admin_user.username))


@pytest.fixture
def pushing_client(admin_user: User) -> Client:
    """The administrator's client the push fixtures use, whatever `client` a test folder defines."""
    return Client(HTTP_AUTHORIZATION=basic_auth(admin_user.username))


@pytest.fixture
def anonymous_client() -> Client:
    return Client()


@pytest.fixture
def repository_name() -> str:
    """A two-component name, as most pushed images have."""
    return "library/alpine"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return str(Digest.of_bytes(data, algorithm))


def path_of(location: str) -> str:
    """The path and query of an absolute Location, ready for the test client."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def error_codes(response: Any) -> list[str]:
    """The OCI error codes of a /v2/ error body, in order."""
    return [error["code"] for error in json.loads(response.content)["errors"]]


def descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}


def manifest_bytes(document: dict[str, Any]) -> bytes:
    """Serialise a manifest the way no re-serialiser would (indent 3, a trailing newline), so a
    registry that rewrites the bytes is caught by a digest or byte comparison."""
    return (json.dumps(document, indent=3) + "\n").encode()


def add_repositories(*names: str) -> None:
    """Repositories as pushes leave them: each in the project its name's first component names,
    holding a manifest (only such repositories are listed: services/repositories.listed_repositories)."""
    projects = {name: Project.objects.get_or_create(name=project_name_of(name))[0] for name in names}
    repositories = Repository.objects.bulk_create(Repository(name=name, project=projects[name]) for name in names)
    content = b"{}"
    Manifest.objects.bulk_create(
        Manifest(repository=repository, digest=digest_of(content), media_type="", content=content, size=len(content))
        for repository in repositories
    )


@dataclass(frozen=True)
class PushedManifest:
    digest: str
    content: bytes
    media_type: str


@dataclass(frozen=True)
class PushedImage(PushedManifest):
    config_digest: str
    layer_digests: list[str]


PushBlob = Callable[..., str]
PushManifest = Callable[..., PushedManifest]
PushImage = Callable[..., PushedImage]


@pytest.fixture
def push_blob(db: None, pushing_client: Client) -> PushBlob:
    """Push bytes through the API (POST an upload, PUT ?digest= with the body); return the digest."""

    def push(name: str, data: bytes, algorithm: str = "sha256") -> str:
        digest = digest_of(data, algorithm)
        started = pushing_client.post(f"/v2/{name}/blobs/uploads/")
        assert started.status_code == 202, started.content
        finished = pushing_client.put(
            path_of(started["Location"]) + f"?digest={digest}", data=data, content_type="application/octet-stream"
        )
        assert finished.status_code == 201, finished.content
        return digest

    return push


@pytest.fixture
def push_manifest(db: None, pushing_client: Client) -> PushManifest:
    """PUT a manifest document (serialised by `manifest_bytes`) by tag or, without one, by its digest."""

    def push(name: str, document: dict[str, Any], media_type: str, tag: str | None = None) -> PushedManifest:
        content = manifest_bytes(document)
        digest = digest_of(content)
        response = pushing_client.put(f"/v2/{name}/manifests/{tag or digest}", data=content, content_type=media_type)
        assert response.status_code == 201, response.content
        assert response["Docker-Content-Digest"] == digest
        return PushedManifest(digest=digest, content=content, media_type=media_type)

    return push


@pytest.fixture
def push_image(push_blob: PushBlob, push_manifest: PushManifest) -> PushImage:
    """Push a config, its layers and an image manifest naming them; return what was pushed.

    `extra` adds top-level manifest fields (artifactType, subject, annotations).
    """

    def push(
        name: str,
        tag: str | None = None,
        layers: Sequence[bytes] = (b"layer one",),
        media_type: str = media_types.OCI_MANIFEST,
        config: bytes = b'{"architecture": "amd64", "os": "linux"}',
        config_media_type: str | None = None,
        **extra: Any,
    ) -> PushedImage:
        docker = media_type == media_types.DOCKER_MANIFEST
        if config_media_type is None:
            config_media_type = (
                "application/vnd.docker.container.image.v1+json"
                if docker
                else "application/vnd.oci.image.config.v1+json"
            )
        layer_type = (
            "application/vnd.docker.image.rootfs.diff.tar.gzip" if docker else "application/vnd.oci.image.layer.v1.tar"
        )
        config_digest = push_blob(name, config)
        layer_digests = [push_blob(name, layer) for layer in layers]
        document: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": descriptor(config_media_type, config),
            "layers": [descriptor(layer_type, layer) for layer in layers],
            **extra,
        }
        pushed = push_manifest(name, document, media_type, tag)
        return PushedImage(
            digest=pushed.digest,
            content=pushed.content,
            media_type=media_type,
            config_digest=config_digest,
            layer_digests=layer_digests,
        )

    return push


@pytest.fixture
def database_through_proxy() -> Iterator[TcpProxy]:
    """Django's connection goes through a proxy the test cuts (the shared Postgres is never touched)."""
    database = connection.settings_dict
    with tcp_proxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)) as proxy:
        direct = (database["HOST"], database["PORT"])
        connection.close()
        database["HOST"], database["PORT"] = "127.0.0.1", str(proxy.port)
        try:
            yield proxy
        finally:
            connection.close()
            database["HOST"], database["PORT"] = direct


@pytest.fixture
def back_to_the_latest_migrations() -> Iterator[None]:
    """For a test that migrates the database to an earlier day (tests/migrations.py)."""
    yield
    migrate_to_the_latest()


@pytest.fixture
def broker_through_proxy() -> Iterator[TcpProxy]:
    """Celery's broker reached through a TCP proxy the test can cut or stall."""
    direct = celery_app.conf.broker_url
    broker = urlsplit(direct)
    with tcp_proxy(broker.hostname or "127.0.0.1", broker.port or 6379) as proxy:
        celery_app.conf.broker_url = broker._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        # Celery keeps its broker connections in pools made from broker_url; a forked worker
        # drops them the same way, so the next send connects to the new URL.
        celery_app._after_fork()
        try:
            yield proxy
        finally:
            celery_app.conf.broker_url = direct
            celery_app._after_fork()
