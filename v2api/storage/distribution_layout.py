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

The store may come from elsewhere (another team's registry, a restored backup) and is read as
untrusted: only regular files inside it are opened, never what a symbolic link points to outside
it (the registry's own signing keys, /dev/zero) nor a FIFO; a link file is read up to a digest's
length, and a blob up to the size its file had when opened.
"""

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from oci.digests import Digest, InvalidDigest
from v2api.storage.streams import READ_SIZE

_V2_ROOT = Path("docker/registry/v2")
# "sha512:" and 128 hex digits, with room for a newline: more is not a link file.
_LINK_LIMIT = 256


class NotADistributionStore(ValueError):
    """The path holds no registry:2 filesystem store."""


class NotAFileOfTheStore(OSError):
    """A path that is a symbolic link leading out of the store, or no regular file."""


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
                self._real_root = Path(os.path.realpath(candidate))
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

    def _open(self, path: Path) -> tuple[BinaryIO, int]:
        """A regular file inside the store, opened for reading, and its size. Raises
        FileNotFoundError, or NotAFileOfTheStore for a link leading out of it or no regular file."""
        real = os.path.realpath(path)
        if not Path(real).is_relative_to(self._real_root):
            raise NotAFileOfTheStore(f"{path} leads out of the store, to {real}")
        # Non-blocking, or opening a FIFO would wait for a writer; a regular file ignores it.
        descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise NotAFileOfTheStore(f"{path} is not a regular file")
            return os.fdopen(descriptor, "rb"), status.st_size
        except BaseException:
            os.close(descriptor)
            raise

    def _read_link(self, link: Path, repository: SourceRepository) -> Digest | None:
        try:
            handle, _ = self._open(link)
            with handle:
                return Digest.parse(handle.read(_LINK_LIMIT).decode().strip())
        except FileNotFoundError:
            # A tag deleted by the reference registry leaves its folder without `current`.
            return None
        except (InvalidDigest, UnicodeDecodeError, OSError):
            repository.broken_links.append(link)
            return None

    def blob_path(self, digest: Digest) -> Path:
        return self.root / "blobs" / digest.algorithm / digest.hex[:2] / digest.hex / "data"

    def blob_size(self, digest: Digest) -> int | None:
        """The blob's size, None when its data file is not there; raises NotAFileOfTheStore."""
        try:
            handle, size = self._open(self.blob_path(digest))
        except FileNotFoundError:
            return None
        handle.close()
        return size

    def blob_chunks(self, digest: Digest) -> Iterator[bytes]:
        """The blob's bytes a buffer at a time, up to one byte more than its file had when opened
        (a file growing meanwhile then fails its digest); raises FileNotFoundError or
        NotAFileOfTheStore."""
        handle, size = self._open(self.blob_path(digest))
        with handle:
            left = size + 1
            while left > 0 and (chunk := handle.read(min(READ_SIZE, left))):
                left -= len(chunk)
                yield chunk

    def read_small_blob(self, digest: Digest, limit: int) -> bytes | None:
        """A manifest's bytes; None when the file is missing, not a file of the store, or larger
        than `limit`."""
        try:
            handle, _ = self._open(self.blob_path(digest))
        except (FileNotFoundError, NotAFileOfTheStore):
            return None
        with handle:
            content = handle.read(limit + 1)
        return content if len(content) <= limit else None
