"""Manifest and descriptor media types the registry understands."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
SCHEMA1 = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
# A Content-Type that says nothing about which manifest this is; the body's own mediaType decides.
UNSPECIFIC = frozenset({"", "application/json", "application/octet-stream"})

# What an artifact is, by its artifactType (or, without one, its config's media type): SBOMs,
# signatures, attestations and Helm charts, as the clients that push them (syft, cosign, notation,
# helm) name them. A runnable image's config type names no artifact.
IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
SIGNATURES = frozenset(
    {
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        "application/vnd.dev.cosign.simplesigning.v1+json",
        "application/vnd.cncf.notary.signature",
    }
)
ARTIFACT_KINDS = {
    **dict.fromkeys(SIGNATURES, "signature"),
    **dict.fromkeys(
        [
            "application/spdx+json",
            "text/spdx",
            "application/vnd.cyclonedx+json",
            "application/vnd.cyclonedx+xml",
            "application/vnd.syft+json",
        ],
        "SBOM",
    ),
    **dict.fromkeys(
        ["application/vnd.dsse.envelope.v1+json", "application/vnd.in-toto+json"],
        "attestation",
    ),
    "application/vnd.cncf.helm.config.v1+json": "Helm chart",
}


def artifact_kind(artifact_type: str) -> str:
    """`SBOM`, `signature`, `attestation`, `Helm chart`, or `artifact` for any other type; empty
    for none or a runnable image's config (an image, or a plain multi-platform index)."""
    if not artifact_type or artifact_type in IMAGE_CONFIGS:
        return ""
    return ARTIFACT_KINDS.get(artifact_type, "artifact")
