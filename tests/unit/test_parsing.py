"""Reading a pushed manifest (v2api/parsing.py): its kind, what it references, its OCI 1.1 fields."""

import json
from typing import Any

import pytest

from oci import media_types
from oci.digests import Digest
from v2api.errors import ManifestInvalid
from v2api.parsing import Descriptor, Platform, parse_manifest

CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "c" * 64, "size": 10}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + "1" * 64, "size": 20}
CHILD = {"mediaType": media_types.OCI_MANIFEST, "digest": "sha256:" + "d" * 64, "size": 30}


def as_descriptor(value: dict[str, Any]) -> Descriptor:
    return Descriptor(value["mediaType"], Digest.parse(value["digest"]), value["size"])


def image(**fields: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": media_types.OCI_MANIFEST, "config": CONFIG, "layers": [LAYER], **fields}


def index(**fields: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": media_types.OCI_INDEX, "manifests": [CHILD], **fields}


def parse(document: Any, content_type: str = "") -> Any:
    return parse_manifest(json.dumps(document).encode(), content_type)


def test_an_image_manifest_references_its_config_and_layers() -> None:
    parsed = parse(image(), media_types.OCI_MANIFEST)

    assert parsed.media_type == media_types.OCI_MANIFEST
    assert parsed.blobs == [as_descriptor(CONFIG), as_descriptor(LAYER)]
    assert parsed.children == []


def test_a_docker_manifest_references_its_config_and_layers() -> None:
    parsed = parse(image(mediaType=media_types.DOCKER_MANIFEST), media_types.DOCKER_MANIFEST)

    assert parsed.media_type == media_types.DOCKER_MANIFEST
    assert parsed.blobs == [as_descriptor(CONFIG), as_descriptor(LAYER)]


@pytest.mark.parametrize("media_type", [media_types.OCI_INDEX, media_types.DOCKER_MANIFEST_LIST])
def test_an_index_references_its_child_manifests(media_type: str) -> None:
    parsed = parse(index(mediaType=media_type), media_type)

    assert parsed.media_type == media_type
    assert parsed.children == [as_descriptor(CHILD)]
    assert parsed.blobs == []


def test_foreign_layers_are_not_required_in_the_registry() -> None:
    foreign = {**LAYER, "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"}

    parsed = parse(image(layers=[foreign, LAYER]), media_types.OCI_MANIFEST)

    assert parsed.blobs == [as_descriptor(CONFIG), as_descriptor(LAYER)]
    # What the image page lists: the config, and every layer in order, foreign ones included.
    assert parsed.config == as_descriptor(CONFIG)
    assert parsed.layers == [as_descriptor(foreign), as_descriptor(LAYER)]


def test_an_index_entry_names_its_platform_and_a_malformed_platform_is_no_error() -> None:
    arm = {**CHILD, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
    odd = {**CHILD, "digest": "sha256:" + "e" * 64, "platform": {"os": 7, "architecture": ["x"]}}

    parsed = parse(index(manifests=[arm, odd, CHILD]), media_types.OCI_INDEX)

    assert parsed.children[0].platform == Platform("linux", "arm64", "v8")
    assert parsed.children[0].platform.name == "linux/arm64/v8"
    assert [child.platform for child in parsed.children[1:]] == [None, None]


def test_an_oci_manifest_may_have_no_layers() -> None:
    document = image()
    del document["layers"]

    assert parse(document, media_types.OCI_MANIFEST).blobs == [as_descriptor(CONFIG)]


def test_a_docker_manifest_must_have_layers() -> None:
    document = image(mediaType=media_types.DOCKER_MANIFEST)
    del document["layers"]

    with pytest.raises(ManifestInvalid):
        parse(document, media_types.DOCKER_MANIFEST)


def test_an_artifact_type_is_read() -> None:
    parsed = parse(image(artifactType="application/vnd.example.sbom"), media_types.OCI_MANIFEST)

    assert parsed.artifact_type == "application/vnd.example.sbom"


def test_an_image_without_artifact_type_takes_its_config_media_type() -> None:
    assert parse(image(), media_types.OCI_MANIFEST).artifact_type == CONFIG["mediaType"]


def test_an_index_without_artifact_type_has_none() -> None:
    assert parse(index(), media_types.OCI_INDEX).artifact_type == ""


def test_a_subject_is_read_as_a_digest() -> None:
    parsed = parse(image(subject=CHILD), media_types.OCI_MANIFEST)

    assert parsed.subject == Digest.parse(CHILD["digest"])


def test_annotations_are_read() -> None:
    parsed = parse(image(annotations={"org.opencontainers.image.title": "x"}), media_types.OCI_MANIFEST)

    assert parsed.annotations == {"org.opencontainers.image.title": "x"}


@pytest.mark.parametrize("content_type", ["", "application/json", "application/octet-stream"])
def test_an_unspecific_content_type_lets_the_body_say_what_it_is(content_type: str) -> None:
    parsed = parse(image(mediaType=media_types.DOCKER_MANIFEST), content_type)

    assert parsed.media_type == media_types.DOCKER_MANIFEST


def test_a_content_type_with_parameters_is_understood() -> None:
    parsed = parse(image(), media_types.OCI_MANIFEST + "; charset=utf-8")

    assert parsed.media_type == media_types.OCI_MANIFEST


def test_an_oci_manifest_without_media_type_is_taken_as_the_content_type_says() -> None:
    document = index()
    del document["mediaType"]

    assert parse(document, media_types.OCI_INDEX).media_type == media_types.OCI_INDEX


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"schemaVersion": 2, "config": CONFIG, "layers": [LAYER]}, media_types.OCI_MANIFEST),
        ({"schemaVersion": 2, "manifests": [CHILD]}, media_types.OCI_INDEX),
    ],
)
def test_without_any_media_type_the_shape_tells_manifest_from_index(document: dict[str, Any], expected: str) -> None:
    assert parse(document).media_type == expected


def test_a_content_type_that_differs_from_the_media_type_is_invalid() -> None:
    with pytest.raises(ManifestInvalid, match="does not match"):
        parse(image(), media_types.DOCKER_MANIFEST)


@pytest.mark.parametrize("media_type", sorted(media_types.SCHEMA1))
def test_a_schema1_manifest_is_invalid(media_type: str) -> None:
    with pytest.raises(ManifestInvalid, match="schema 1"):
        parse({"schemaVersion": 1, "mediaType": media_type, "fsLayers": []}, media_type)


def test_a_schema_version_other_than_2_is_invalid() -> None:
    with pytest.raises(ManifestInvalid, match="schemaVersion"):
        parse(image(schemaVersion=3), media_types.OCI_MANIFEST)


def test_an_unknown_media_type_is_invalid() -> None:
    with pytest.raises(ManifestInvalid, match="unsupported"):
        parse(image(mediaType="application/vnd.example.thing"), "application/vnd.example.thing")


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b""])
def test_a_body_that_is_not_json_is_invalid(content: bytes) -> None:
    with pytest.raises(ManifestInvalid, match="not valid JSON"):
        parse_manifest(content, media_types.OCI_MANIFEST)


@pytest.mark.parametrize("document", [[], "text", 2, None])
def test_a_body_that_is_not_an_object_is_invalid(document: Any) -> None:
    with pytest.raises(ManifestInvalid):
        parse(document, media_types.OCI_MANIFEST)


@pytest.mark.parametrize(
    "config",
    [
        None,
        "sha256:" + "c" * 64,
        {**CONFIG, "mediaType": ""},
        {key: value for key, value in CONFIG.items() if key != "digest"},
        {**CONFIG, "size": -1},
        {**CONFIG, "size": "10"},
        {**CONFIG, "size": True},
    ],
)
def test_a_config_that_is_not_a_valid_descriptor_is_invalid(config: Any) -> None:
    with pytest.raises(ManifestInvalid):
        parse(image(config=config), media_types.OCI_MANIFEST)


def test_a_descriptor_with_a_bad_digest_is_manifest_invalid_not_digest_invalid() -> None:
    with pytest.raises(ManifestInvalid, match="invalid digest"):
        parse(image(layers=[{**LAYER, "digest": "sha256:short"}]), media_types.OCI_MANIFEST)


def test_layers_that_are_not_a_list_are_invalid() -> None:
    with pytest.raises(ManifestInvalid, match="layers"):
        parse(image(layers=LAYER), media_types.OCI_MANIFEST)


def test_an_index_without_manifests_is_invalid() -> None:
    document = index()
    del document["manifests"]

    with pytest.raises(ManifestInvalid, match="manifests"):
        parse(document, media_types.OCI_INDEX)


@pytest.mark.parametrize("annotations", [{"key": 1}, ["key"]])
def test_annotations_that_are_not_strings_to_strings_are_invalid(annotations: Any) -> None:
    with pytest.raises(ManifestInvalid, match="annotations"):
        parse(image(annotations=annotations), media_types.OCI_MANIFEST)


def test_an_artifact_type_that_is_not_a_string_is_invalid() -> None:
    with pytest.raises(ManifestInvalid, match="artifactType"):
        parse(image(artifactType=1), media_types.OCI_MANIFEST)


def test_a_media_type_that_is_not_a_string_is_invalid() -> None:
    with pytest.raises(ManifestInvalid, match="mediaType"):
        parse(image(mediaType=1), "")


def nested(depth: int) -> Any:
    """A value `depth` arrays deep, for a field the spec leaves to its users."""
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_a_manifest_nested_deeper_than_the_limit_is_refused_though_json_reads_it() -> None:
    # 900 levels parse in Python's json (its limit is the interpreter's recursion), and would
    # break whatever walked them recursively later.
    with pytest.raises(ManifestInvalid, match="nested too deeply"):
        parse(image(extension=nested(900)))

    # Within the limit: the manifest is the first level, its arrays the next 31.
    assert parse(image(extension=nested(31))).media_type == media_types.OCI_MANIFEST
    with pytest.raises(ManifestInvalid, match="nested too deeply"):
        parse(image(extension=nested(32)))
