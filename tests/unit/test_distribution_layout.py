"""Reading a registry:2 filesystem store: what the e2e import (a store docker-registry really
wrote) does not meet: a repository inside another's folder, a deleted tag, a link naming no
digest, and a folder that is no store at all."""

import hashlib
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from oci.digests import Digest
from v2api.storage.distribution_layout import DistributionStore, NotADistributionStore, NotAFileOfTheStore

V2 = Path("docker/registry/v2")
T = TypeVar("T")


def digest_of(content: bytes) -> Digest:
    return Digest.parse("sha256:" + hashlib.sha256(content).hexdigest())


def put_blob(root: Path, content: bytes) -> Digest:
    digest = digest_of(content)
    data = root / V2 / "blobs/sha256" / digest.hex[:2] / digest.hex / "data"
    data.parent.mkdir(parents=True)
    data.write_bytes(content)
    return digest


def link(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    (tmp_path / V2 / "blobs").mkdir(parents=True)
    (tmp_path / V2 / "repositories").mkdir()
    return tmp_path


def test_a_repository_inside_another_ones_folder_is_read_as_its_own(store_root: Path) -> None:
    layer, manifest = put_blob(store_root, b"layer"), put_blob(store_root, b"{}")
    team = store_root / V2 / "repositories/team"
    link(team / "_layers/sha256" / layer.hex / "link", str(layer))
    link(team / "app/_manifests/revisions/sha256" / manifest.hex / "link", str(manifest))
    link(team / "app/_manifests/tags/v1/current/link", str(manifest))

    repositories = list(DistributionStore(store_root).repositories())

    assert [(each.name, each.layers, each.manifests, each.tags) for each in repositories] == [
        ("team", [layer], [], {}),
        ("team/app", [], [manifest], {"v1": manifest}),
    ]


def test_a_deleted_tag_is_left_out_and_a_link_naming_no_digest_is_reported(store_root: Path) -> None:
    app = store_root / V2 / "repositories/app"
    # The reference registry deletes a tag's `current` and keeps the tag's folder and index.
    (app / "_manifests/tags/gone/index").mkdir(parents=True)
    link(app / "_layers/sha256/abc/link", "not a digest")

    [repository] = DistributionStore(store_root).repositories()

    assert repository.tags == {}
    assert repository.layers == []
    assert repository.broken_links == [app / "_layers/sha256/abc/link"]


def test_the_store_is_found_from_its_rootdirectory_or_its_v2_folder(store_root: Path) -> None:
    assert DistributionStore(store_root).root == store_root / V2
    assert DistributionStore(store_root / V2).root == store_root / V2


def test_a_folder_that_holds_no_store_is_refused_with_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(NotADistributionStore, match="no docker/registry/v2/repositories and blobs in it"):
        DistributionStore(tmp_path)


def test_a_manifest_larger_than_the_limit_or_missing_is_not_read(store_root: Path) -> None:
    store = DistributionStore(store_root)
    manifest = put_blob(store_root, b"x" * 100)

    assert store.read_small_blob(manifest, 100) == b"x" * 100
    assert store.read_small_blob(manifest, 99) is None
    assert store.read_small_blob(digest_of(b"absent"), 100) is None
    assert store.blob_size(digest_of(b"absent")) is None


def test_a_fifo_or_a_device_is_reported_without_waiting_for_it(store_root: Path) -> None:
    """Opening a FIFO waits for a writer and /dev/zero never ends: a link file that is either is
    broken, a blob file that is either is no file of the store (in a thread, so that a hang fails
    the test rather than stopping the run)."""
    app = store_root / V2 / "repositories/app"
    link(app / "_layers/sha256/abc/link", "")
    fifo = app / "_layers/sha256/abc/link"
    fifo.unlink()
    os.mkfifo(fifo)
    zero = digest_of(b"zero")
    (store_root / V2 / "blobs/sha256" / zero.hex[:2] / zero.hex).mkdir(parents=True)
    (store_root / V2 / "blobs/sha256" / zero.hex[:2] / zero.hex / "data").symlink_to("/dev/zero")
    store = DistributionStore(store_root)

    [repository] = within_seconds(lambda: list(store.repositories()))
    assert repository.broken_links == [fifo]
    with pytest.raises(NotAFileOfTheStore):
        within_seconds(lambda: store.blob_size(zero))


def within_seconds(call: Callable[[], T], seconds: float = 10) -> T:
    """`call`'s answer or exception, in a daemon thread: one that hangs fails the test and is left
    behind without holding up the run's exit."""
    answers: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def run() -> None:
        try:
            answers.put((True, call()))
        except BaseException as error:
            answers.put((False, error))

    threading.Thread(target=run, daemon=True).start()
    try:
        succeeded, answer = answers.get(timeout=seconds)
    except queue.Empty:
        pytest.fail(f"no answer within {seconds} s")
    if not succeeded:
        raise answer
    return cast(T, answer)
