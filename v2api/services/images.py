"""What the dashboard shows about an image: the manifest's layers, the config's command line,
environment, labels, ports and build history, the platforms of an index, and its referrers.

Manifests are read by v2api/parsing.py, the parser the API checks pushes with. Configs are small
JSON blobs read through blobs.read_small_blob; layers are never opened. A config is
content-addressed, so what is read from it is cached by digest forever.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache

from oci import media_types
from oci.digests import Digest
from v2api.errors import ManifestInvalid
from v2api.models import Manifest, Repository
from v2api.parsing import Descriptor, ParsedManifest, parse_manifest, read_platform
from v2api.services.blobs import read_small_blob
from v2api.services.manifests import list_referrers

# A config larger than this is not an image config worth showing (and reading it would cost);
# real ones are a few KiB, with long build histories a few hundred.
MAX_CONFIG_BYTES = 1024 * 1024
PLATFORM_CACHE_SECONDS = 7 * 24 * 3600
# Buildx attaches provenance as an "unknown/unknown" entry of an index; it is not a platform to pull.
NOT_A_PLATFORM = "unknown/unknown"


def _parsed(manifest: Manifest) -> ParsedManifest | None:
    """The stored manifest read as its push was; None if it no longer parses (a rule added since)."""
    try:
        return parse_manifest(bytes(manifest.content), manifest.media_type)
    except ManifestInvalid:
        return None


def _config_document(config: Descriptor) -> dict[str, Any] | None:
    """An image config as a dict; None if it is too big, missing or not a JSON object."""
    if config.size > MAX_CONFIG_BYTES:
        return None
    content = read_small_blob(config.digest, MAX_CONFIG_BYTES)
    if content is None:
        return None
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _platform_name(value: Any) -> str:
    """`linux/arm64/v8` from a config or an index entry's `platform`; empty if it names none."""
    platform = read_platform(value)
    return platform.name if platform is not None else ""


def platforms_of_manifests(manifests: list[Manifest]) -> dict[str, list[str]]:
    """The platforms of each manifest by digest: an index's entries, or an image's config."""
    platforms: dict[str, list[str]] = {}
    configs: dict[str, Descriptor] = {}
    for manifest in manifests:
        parsed = _parsed(manifest)
        if parsed is None:
            continue
        if manifest.media_type in media_types.INDEXES:
            names = [child.platform.name for child in parsed.children if child.platform is not None]
            platforms[manifest.digest] = [name for name in names if name != NOT_A_PLATFORM]
        elif parsed.config is not None:
            configs[manifest.digest] = parsed.config
    cached = cache.get_many([f"ui:platform:{config.digest}" for config in configs.values()])
    for manifest_digest, config in configs.items():
        key = f"ui:platform:{config.digest}"
        if key not in cached:
            cached[key] = _platform_name(_config_document(config))
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
    # What a child of an artifact index is (an SBOM, a signature…), where it names no platform.
    artifact_kind: str = ""


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
    # `SBOM`, `signature`, `Helm chart`…: empty for an image or a multi-platform index.
    artifact_kind: str = ""
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
    parsed = _parsed(manifest)
    details = ImageDetails(
        repository_name=repository.name,
        digest=manifest.digest,
        media_type=manifest.media_type,
        size=manifest.size,
        pushed_at=manifest.pushed_at,
        tags=sorted(manifest.tags.values_list("name", flat=True)),
        raw_manifest=_readable_json(bytes(manifest.content)),
        artifact_type=manifest.artifact_type,
        artifact_kind=media_types.artifact_kind(manifest.artifact_type),
        subject_digest=manifest.subject_digest,
        is_index=manifest.media_type in media_types.INDEXES,
    )
    if parsed is not None and details.is_index:
        details.platforms = _index_entries(repository, parsed.children)
    elif parsed is not None:
        details.layers = [Layer(layer.media_type, str(layer.digest), layer.size) for layer in parsed.layers]
        if parsed.config is not None:
            details.config_digest = str(parsed.config.digest)
            details.config_media_type = parsed.config.media_type
            if parsed.config.media_type in IMAGE_CONFIG_TYPES:
                config_document = _config_document(parsed.config)
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


def _index_entries(repository: Repository, children: list[Descriptor]) -> list[IndexEntry]:
    digests = [str(child.digest) for child in children]
    present = dict(
        Manifest.objects.filter(repository=repository, digest__in=digests).values_list("digest", "artifact_type")
    )
    return [
        IndexEntry(
            digest=str(child.digest),
            media_type=child.media_type,
            size=child.size,
            platform=child.platform.name if child.platform is not None else "",
            in_repository=str(child.digest) in present,
            artifact_kind=media_types.artifact_kind(present.get(str(child.digest), "")),
        )
        for child in children
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
        platform=_platform_name(document),
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
