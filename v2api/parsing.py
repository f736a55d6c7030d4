"""Reading a pushed manifest: which kind it is and what it references. No database here.

The bytes are never re-serialised; this only reads them to learn the media type, the blobs
and child manifests that must already be in the repository, and the OCI 1.1 fields
(`subject`, `artifactType`, `annotations`) that the referrers API answers from. The dashboard
reads stored manifests with the same parser (services/images.py): config, every layer, and the
platform of each entry of an index.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from oci import media_types
from oci.digests import Digest, InvalidDigest
from oci.request_edge import is_storable_text
from v2api.errors import ManifestInvalid

# Layers a registry is not expected to hold (Windows base layers): pushed manifests name them
# with download URLs elsewhere, so their absence is not an error.
_FOREIGN_LAYER_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)


@dataclass(frozen=True)
class Platform:
    """What an index entry runs on (its `platform`), or what an image config says it runs on."""

    os: str
    architecture: str
    variant: str = ""

    @property
    def name(self) -> str:
        """`linux/arm64/v8`."""
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    # The platform an index entry names; None where it names none.
    platform: Platform | None = None


@dataclass
class ParsedManifest:
    media_type: str
    # What must already be in the repository: the config and every layer but foreign ones.
    blobs: list[Descriptor] = field(default_factory=list)
    children: list[Descriptor] = field(default_factory=list)
    config: Descriptor | None = None
    # Every layer, in order, foreign ones included.
    layers: list[Descriptor] = field(default_factory=list)
    subject: Digest | None = None
    artifact_type: str = ""
    annotations: dict[str, str] = field(default_factory=dict)


def parse_manifest(content: bytes, content_type: str) -> ParsedManifest:
    """Parse and check a manifest body sent with `content_type`; raise ManifestInvalid saying what is wrong."""
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, ValueError) as error:
        raise ManifestInvalid("manifest is not valid JSON", detail={"reason": str(error)}) from None
    except RecursionError:
        # json's decoder recurses per level of nesting: a body of 1,000 `[` exhausts the stack.
        # No manifest nests more than a handful of levels.
        raise ManifestInvalid("manifest is nested too deeply") from None
    if not isinstance(document, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    _check_strings(document)

    media_type = _media_type(document, content_type)
    if media_type in media_types.SCHEMA1:
        raise ManifestInvalid(
            "Docker schema 1 manifests are not accepted; push with a current client (schema 2 or OCI)",
            detail={"mediaType": media_type},
        )
    if document.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2", detail={"schemaVersion": document.get("schemaVersion")})

    parsed = ParsedManifest(media_type=media_type)
    if media_type in media_types.IMAGE_MANIFESTS:
        config = _descriptor(document.get("config"), "config")
        layers = _descriptor_list(document, "layers", required=media_type == media_types.DOCKER_MANIFEST)
        parsed.config, parsed.layers = config, layers
        parsed.blobs = [config] + [layer for layer in layers if layer.media_type not in _FOREIGN_LAYER_TYPES]
        # The referrers API reports the config's media type when artifactType is absent.
        parsed.artifact_type = _optional_string(document, "artifactType") or config.media_type
    elif media_type in media_types.INDEXES:
        parsed.children = _descriptor_list(document, "manifests", required=True)
        parsed.artifact_type = _optional_string(document, "artifactType")
    else:
        raise ManifestInvalid(
            "unsupported manifest media type",
            detail={
                "mediaType": media_type,
                "supported": sorted(media_types.IMAGE_MANIFESTS | media_types.INDEXES),
            },
        )

    if "subject" in document:
        parsed.subject = _descriptor(document["subject"], "subject").digest
    parsed.annotations = _annotations(document)
    return parsed


# Objects and arrays inside one another: an image manifest needs 4 (annotations in a descriptor
# in a list), and nothing a registry stores needs 32; deeper ones are refused before anything
# that walks them recursively (the dashboard, a client) meets them.
MAX_NESTING = 32


def _check_strings(document: dict[str, Any]) -> None:
    """Every key and string of the document is storable text (oci.request_edge.is_storable_text):
    annotations, artifactType and media types go to Postgres, which refuses a NUL (`\\u0000`) or
    a lone surrogate (`\\ud800`), and nothing nests deeper than MAX_NESTING. Walked with a stack,
    not recursion, for the nesting above."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list) and depth > MAX_NESTING:
            raise ManifestInvalid("manifest is nested too deeply", detail={"limit": MAX_NESTING})
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and not is_storable_text(value):
            raise ManifestInvalid("manifest holds a NUL character or an unpaired surrogate")


def _media_type(document: dict[str, Any], content_type: str) -> str:
    declared = content_type.split(";", 1)[0].strip().lower()
    body_type = document.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise ManifestInvalid("mediaType must be a string")
    if declared not in media_types.UNSPECIFIC:
        if body_type and body_type != declared:
            raise ManifestInvalid(
                "Content-Type does not match the manifest's mediaType",
                detail={"contentType": declared, "mediaType": body_type},
            )
        return declared
    if body_type:
        return body_type
    # An OCI manifest may omit mediaType; its shape tells which kind it is.
    return media_types.OCI_INDEX if "manifests" in document else media_types.OCI_MANIFEST


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} must be a descriptor object")
    media_type, digest_text, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{where} has no mediaType")
    if not isinstance(digest_text, str):
        raise ManifestInvalid(f"{where} has no digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where} has no valid size", detail={"size": size})
    try:
        digest = Digest.parse(digest_text)
    except InvalidDigest as error:
        raise ManifestInvalid(f"{where} has an invalid digest", detail=error.detail) from None
    return Descriptor(media_type, digest, size, read_platform(value.get("platform")))


def read_platform(value: Any) -> Platform | None:
    """The platform a JSON object names (an index entry's `platform`, an image config), read
    leniently: a push is never refused over it. None when it names none."""
    if not isinstance(value, dict):
        return None
    os, architecture, variant = (value.get(key) for key in ("os", "architecture", "variant"))
    platform = Platform(*(part if isinstance(part, str) else "" for part in (os, architecture, variant)))
    return platform if platform.name else None


def _descriptor_list(document: dict[str, Any], key: str, required: bool) -> list[Descriptor]:
    value = document.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise ManifestInvalid(f"{key} must be a list of descriptors")
    return [_descriptor(item, f"{key}[{position}]") for position, item in enumerate(value)]


def _optional_string(document: dict[str, Any], key: str) -> str:
    value = document.get(key, "")
    if not isinstance(value, str):
        raise ManifestInvalid(f"{key} must be a string")
    return value


def _annotations(document: dict[str, Any]) -> dict[str, str]:
    value = document.get("annotations") or {}
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ManifestInvalid("annotations must map strings to strings")
    return value
