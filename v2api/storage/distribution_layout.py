"""The filesystem store of a `registry:2` (CNCF distribution), read for `manage.py importregistry`;
read-only, no database here.

    <rootdirectory>/docker/registry/v2/
        blobs/<algorithm>/<hex[:2]>/<hex>/data                  every blob's bytes, manifests' too
        repositories/<name>/                                    <name> may have several components
            _layers/<algorithm>/<hex>/link                      a blob the repository may serve
            _manifests/revisions/<algorithm>/<hex>/link         a manifest the repository holds
            _manifests/tags/<tag>/current/link                  the manifest the tag names now
            _manifests/tags/<tag>/index/…                       what it named before (not read)
            _uploads/                                           uploads in progress (not read)

A link file holds a digest as text. distribution keeps no record of a manifest's media type
beside its bytes: it is read from the manifest itself.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from oci.digests import Digest, InvalidDigest
from v2api.storage.streams import READ_SIZE

_V2_ROOT = Path("docker/registry/v2")


class NotADistributionStore(ValueError):
    """The path holds no registry:2 filesystem store."""


@dataclass
class SourceRepository:
    name: str
    layers: list[Digest] = field(default_factory=list)
    manifests: list[Digest] = field(default_factory=list)
    tags: dict[str, Digest] = field(default_factory=dict)
    # Link files that name no digest: reported, and what they would have linked is left out.
    broken_links: list[Path] = field(default_factory=list)


class DistributionStore:
    def __init__(self, path: Path) -> None:
        """`path` is the driver's `rootdirectory`, or its `docker/registry/v2` folder; raises
        NotADistributionStore when neither holds `repositories/` and `blobs/`."""
        for candidate in (path / _V2_ROOT, path):
            if (candidate / "repositories").is_dir() and (candidate / "blobs").is_dir():
                self.root = candidate
                return
        raise NotADistributionStore(
            f"{path} is not a registry:2 filesystem store: no {_V2_ROOT}/repositories and blobs in it"
        )

    def repositories(self) -> Iterator[SourceRepository]:
        """Every repository, by name; a folder is one when it holds `_manifests` or `_layers`,
        and may also hold repositories below it (`team` and `team/app`)."""
        top = self.root / "repositories"
        for directory, folders, _ in os.walk(top):
            folders.sort()
            here = Path(directory)
            if (here / "_manifests").is_dir() or (here / "_layers").is_dir():
                yield self._read_repository(here.relative_to(top).as_posix(), here)
            folders[:] = [name for name in folders if not name.startswith("_")]

    def _read_repository(self, name: str, folder: Path) -> SourceRepository:
        repository = SourceRepository(name)
        repository.layers = self._links(folder / "_layers", repository)
        repository.manifests = self._links(folder / "_manifests" / "revisions", repository)
        tags = folder / "_manifests" / "tags"
        if tags.is_dir():
            for tag in sorted(tags.iterdir()):
                target = self._read_link(tag / "current" / "link", repository)
                if target is not None:
                    repository.tags[tag.name] = target
        return repository

    def _links(self, folder: Path, repository: SourceRepository) -> list[Digest]:
        found = []
        for link in sorted(folder.glob("*/*/link")):
            digest = self._read_link(link, repository)
            if digest is not None:
                found.append(digest)
        return found

    def _read_link(self, link: Path, repository: SourceRepository) -> Digest | None:
        try:
            return Digest.parse(link.read_text().strip())
        except FileNotFoundError:
            # A tag deleted by the reference registry leaves its folder without `current`.
            return None
        except (InvalidDigest, UnicodeDecodeError, OSError):
            repository.broken_links.append(link)
            return None

    def blob_path(self, digest: Digest) -> Path:
        return self.root / "blobs" / digest.algorithm / digest.hex[:2] / digest.hex / "data"

    def blob_size(self, digest: Digest) -> int | None:
        """The blob's size, None when its data file is not there."""
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def blob_chunks(self, digest: Digest) -> Iterator[bytes]:
        """The blob's bytes a buffer at a time; raises FileNotFoundError."""
        with open(self.blob_path(digest), "rb") as data:
            while chunk := data.read(READ_SIZE):
                yield chunk

    def read_small_blob(self, digest: Digest, limit: int) -> bytes | None:
        """A manifest's bytes; None when the file is missing or larger than `limit`."""
        try:
            with open(self.blob_path(digest), "rb") as data:
                content = data.read(limit + 1)
        except FileNotFoundError:
            return None
        return content if len(content) <= limit else None
