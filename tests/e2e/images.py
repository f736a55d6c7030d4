"""Test images made offline: OCI image layouts that skopeo can push (`oci:DIR:TAG`).

Layers are real gzip-compressed tars of random files, so every image is distinct and every
digest is checked by the clients end to end. With `runnable=True` the image holds Debian's
static busybox as /bin/sh, so an engine can really run it.
"""

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
BUSYBOX = Path("/bin/busybox")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class OciLayout:
    """A layout directory holding one tagged image or index."""

    path: Path
    tag: str
    manifest: Descriptor
    layers: list[Descriptor]

    @property
    def reference(self) -> str:
        """The skopeo transport reference, e.g. `oci:/tmp/x:v1`."""
        return f"oci:{self.path}:{self.tag}"


class _LayoutWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def put(self, media_type: str, content: bytes) -> Descriptor:
        digest = hashlib.sha256(content).hexdigest()
        (self.path / "blobs" / "sha256" / digest).write_bytes(content)
        return Descriptor(media_type, f"sha256:{digest}", len(content))

    def tag(self, tag: str, descriptor: Descriptor) -> None:
        entry = {**descriptor.as_json(), "annotations": {"org.opencontainers.image.ref.name": tag}}
        (self.path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


def _layer(files: dict[str, bytes], executable: bool = False) -> tuple[bytes, str]:
    """A gzip-compressed tar of `files`; returns it and the digest of the uncompressed tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755 if executable else 0o644
            archive.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, compresslevel=1), "sha256:" + hashlib.sha256(tar_bytes).hexdigest()


def _image(
    writer: _LayoutWriter, layer_sizes: tuple[int, ...], architecture: str, runnable: bool
) -> tuple[Descriptor, list[Descriptor]]:
    layers: list[Descriptor] = []
    diff_ids: list[str] = []
    contents = [{"bin/busybox": BUSYBOX.read_bytes()}] if runnable else []
    contents += [{f"data/file-{index}": os.urandom(size)} for index, size in enumerate(layer_sizes)]
    for position, files in enumerate(contents):
        compressed, diff_id = _layer(files, executable=runnable and position == 0)
        layers.append(writer.put(OCI_LAYER, compressed))
        diff_ids.append(diff_id)
    config = {
        "architecture": architecture,
        "os": "linux",
        "config": {"Entrypoint": ["/bin/busybox"], "Cmd": ["echo", "hello from harbor-lite"]} if runnable else {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"test layer {index}"} for index in range(len(layers))],
    }
    config_descriptor = writer.put(OCI_CONFIG, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor.as_json(),
        "layers": [layer.as_json() for layer in layers],
    }
    return writer.put(OCI_MANIFEST, json.dumps(manifest).encode()), layers


def build_image(
    path: Path,
    tag: str = "latest",
    layer_sizes: tuple[int, ...] = (64 * 1024, 256 * 1024),
    architecture: str = "amd64",
    runnable: bool = False,
) -> OciLayout:
    """A single-platform image of random layers (plus busybox when `runnable`)."""
    writer = _LayoutWriter(path)
    manifest, layers = _image(writer, layer_sizes, architecture, runnable)
    writer.tag(tag, manifest)
    return OciLayout(path, tag, manifest, layers)


def build_index(path: Path, tag: str = "latest", architectures: tuple[str, ...] = ("amd64", "arm64")) -> OciLayout:
    """A multi-platform OCI index whose children are images of random layers, one per architecture."""
    writer = _LayoutWriter(path)
    children: list[dict[str, object]] = []
    all_layers: list[Descriptor] = []
    for architecture in architectures:
        manifest, layers = _image(writer, (32 * 1024,), architecture, runnable=False)
        children.append({**manifest.as_json(), "platform": {"architecture": architecture, "os": "linux"}})
        all_layers += layers
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    descriptor = writer.put(OCI_INDEX, json.dumps(index).encode())
    writer.tag(tag, descriptor)
    return OciLayout(path, tag, descriptor, all_layers)
