"""What the dashboard shows about an image: the manifest's layers, the config's command line,
environment, labels, ports and build history, the platforms of an index, and its referrers.

Configs are small JSON blobs read through v2api/storage/blobstore.py; layers are never opened.
A config is content-addressed, so what is read from it is cached by digest forever.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache

from v2api import media_types
from v2api.digests import Digest
from v2api.errors import DigestInvalid
from v2api.models import Manifest, Repository
from v2api.services.manifests import list_referrers
from v2api.storage import blobstore

# A config larger than this is not an image config worth showing (and reading it would cost);
# real ones are a few KiB, with long build histories a few hundred.
MAX_CONFIG_BYTES = 1024 * 1024
PLATFORM_CACHE_SECONDS = 7 * 24 * 3600


def read_json_blob(digest: str, size: int) -> dict[str, Any] | None:
    """A small JSON blob (an image config) as a dict; None if it is too big, missing or not JSON."""
    if size > MAX_CONFIG_BYTES:
        return None
    try:
        with blobstore.open_blob(Digest.parse(digest)) as handle:
            document = json.loads(handle.read(MAX_CONFIG_BYTES + 1))
    except (FileNotFoundError, DigestInvalid, UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def platform_name(document: dict[str, Any]) -> str:
    """`linux/arm64/v8` from a config or an index entry's `platform`; empty if it names none."""
    parts = [document.get("os"), document.get("architecture"), document.get("variant")]
    return "/".join(str(part) for part in parts if isinstance(part, str) and part)


def _manifest_document(manifest: Manifest) -> dict[str, Any]:
    try:
        document = json.loads(bytes(manifest.content))
    except (UnicodeDecodeError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _config_descriptor(document: dict[str, Any]) -> tuple[str, int] | None:
    config = document.get("config")
    if isinstance(config, dict) and isinstance(config.get("digest"), str) and isinstance(config.get("size"), int):
        return config["digest"], config["size"]
    return None


def _index_platforms(document: dict[str, Any]) -> list[str]:
    names = []
    for entry in document.get("manifests") or []:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        name = platform_name(platform) if isinstance(platform, dict) else ""
        # Buildx attaches provenance as an "unknown/unknown" entry; it is not a platform to pull.
        if name and name != "unknown/unknown":
            names.append(name)
    return names


def platforms_of_manifests(manifests: list[Manifest]) -> dict[str, list[str]]:
    """The platforms of each manifest by digest: an index's entries, or an image's config."""
    platforms: dict[str, list[str]] = {}
    configs: dict[str, tuple[str, int]] = {}
    for manifest in manifests:
        document = _manifest_document(manifest)
        if manifest.media_type in media_types.INDEXES:
            platforms[manifest.digest] = _index_platforms(document)
        elif (config := _config_descriptor(document)) is not None:
            configs[manifest.digest] = config
    cached = cache.get_many([f"ui:platform:{digest}" for digest, _ in configs.values()])
    for manifest_digest, (config_digest, size) in configs.items():
        key = f"ui:platform:{config_digest}"
        if key not in cached:
            config_document = read_json_blob(config_digest, size)
            cached[key] = platform_name(config_document) if config_document else ""
            cache.set(key, cached[key], PLATFORM_CACHE_SECONDS)
        platforms[manifest_digest] = [cached[key]] if cached[key] else []
    return platforms


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class HistoryStep:
    created: str
    created_by: str
    empty_layer: bool
    comment: str


@dataclass(frozen=True)
class IndexEntry:
    digest: str
    media_type: str
    size: int
    platform: str
    in_repository: bool


@dataclass(frozen=True)
class ImageConfig:
    platform: str
    created: str
    entrypoint: list[str]
    command: list[str]
    working_dir: str
    user: str
    environment: list[str]
    labels: dict[str, str]
    exposed_ports: list[str]
    history: list[HistoryStep]


@dataclass(frozen=True)
class Referrer:
    digest: str
    artifact_type: str
    media_type: str
    size: int
    annotations: dict[str, str]


@dataclass
class ImageDetails:
    repository_name: str
    digest: str
    media_type: str
    size: int
    pushed_at: datetime
    tags: list[str]
    raw_manifest: str
    artifact_type: str = ""
    subject_digest: str = ""
    is_index: bool = False
    layers: list[Layer] = field(default_factory=list)
    config_digest: str = ""
    config_media_type: str = ""
    config: ImageConfig | None = None
    platforms: list[IndexEntry] = field(default_factory=list)
    referrers: list[Referrer] = field(default_factory=list)


def image_details(repository: Repository, manifest: Manifest) -> ImageDetails:
    """Everything the image page shows about `manifest` (a manifest row of `repository`)."""
    document = _manifest_document(manifest)
    details = ImageDetails(
        repository_name=repository.name,
        digest=manifest.digest,
        media_type=manifest.media_type,
        size=manifest.size,
        pushed_at=manifest.pushed_at,
        tags=sorted(manifest.tags.values_list("name", flat=True)),
        raw_manifest=_readable_json(bytes(manifest.content)),
        artifact_type=manifest.artifact_type,
        subject_digest=manifest.subject_digest,
        is_index=manifest.media_type in media_types.INDEXES,
    )
    if details.is_index:
        details.platforms = _index_entries(repository, document)
    else:
        details.layers = [
            Layer(str(layer.get("mediaType", "")), str(layer.get("digest", "")), int(layer.get("size", 0)))
            for layer in document.get("layers") or []
            if isinstance(layer, dict)
        ]
        config = _object(document.get("config"))
        details.config_digest = str(config.get("digest", ""))
        details.config_media_type = str(config.get("mediaType", ""))
        descriptor = _config_descriptor(document)
        if descriptor is not None and details.config_media_type in IMAGE_CONFIG_TYPES:
            config_document = read_json_blob(*descriptor)
            details.config = _image_config(config_document) if config_document else None
    details.referrers = [
        Referrer(
            digest=str(item["digest"]),
            artifact_type=str(item.get("artifactType", "")),
            media_type=str(item["mediaType"]),
            size=int(item["size"]),  # type: ignore[call-overload]
            annotations=dict(item.get("annotations") or {}),  # type: ignore[call-overload]
        )
        for item in list_referrers(repository.name, Digest.parse(manifest.digest), None)
    ]
    return details


# Configs of runnable images; an artifact's config (a signature, an SBOM, the empty `{}`) is not one.
IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)


def _index_entries(repository: Repository, document: dict[str, Any]) -> list[IndexEntry]:
    entries = [entry for entry in document.get("manifests") or [] if isinstance(entry, dict)]
    present = set(
        Manifest.objects.filter(
            repository=repository, digest__in=[str(entry.get("digest", "")) for entry in entries]
        ).values_list("digest", flat=True)
    )
    return [
        IndexEntry(
            digest=str(entry.get("digest", "")),
            media_type=str(entry.get("mediaType", "")),
            size=int(entry.get("size", 0)),
            platform=platform_name(entry["platform"]) if isinstance(entry.get("platform"), dict) else "",
            in_repository=str(entry.get("digest", "")) in present,
        )
        for entry in entries
    ]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _image_config(document: dict[str, Any]) -> ImageConfig:
    run = _object(document.get("config"))
    labels = _object(run.get("Labels"))
    ports = _object(run.get("ExposedPorts"))
    history = [step for step in document.get("history") or [] if isinstance(step, dict)]
    return ImageConfig(
        platform=platform_name(document),
        created=str(document.get("created", "")),
        entrypoint=_strings(run.get("Entrypoint")),
        command=_strings(run.get("Cmd")),
        working_dir=str(run.get("WorkingDir") or ""),
        user=str(run.get("User") or ""),
        environment=_strings(run.get("Env")),
        labels={str(key): str(value) for key, value in sorted(labels.items())},
        exposed_ports=sorted(str(port) for port in ports),
        history=[
            HistoryStep(
                created=str(step.get("created", "")),
                created_by=str(step.get("created_by", "")),
                empty_layer=bool(step.get("empty_layer", False)),
                comment=str(step.get("comment", "")),
            )
            for step in history
        ],
    )


def _readable_json(content: bytes) -> str:
    """The manifest indented for reading. The digest covers the exact bytes, which the page links to."""
    try:
        return json.dumps(json.loads(content), indent=2)
    except (UnicodeDecodeError, ValueError):
        return content.decode("utf-8", errors="replace")
