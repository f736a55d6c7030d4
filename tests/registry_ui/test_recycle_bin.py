"""The recycle bin tab: members read what the project deleted, maintainers restore it or delete it
permanently, project admins set the window; the usage and confirmation pages say what is in the bin
and when it is freed."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from registry_ui.templatetags.sizes import binary_size
from tests.conftest import PushedImage, PushImage
from tests.registry_ui.conftest import CONFIG
from v2api.models import RecycledDeletion, RetentionPolicy, RetentionRule, Tag
from v2api.services.deletion import execute_deletion, plan_deletion
from v2api.services.retention import plan_retention

AsUser = Callable[[User], Client]
URL = "/projects/team/recycle-bin/"


@pytest.fixture(autouse=True)
def recycle_bin(no_recycle_bin: None, settings: Any) -> None:
    settings.REGISTRY_RECYCLE_SECONDS = 24 * 3600


@pytest.fixture
def deleted(app_image: PushedImage) -> RecycledDeletion:
    execute_deletion("team/app", digests=[app_image.digest])
    return RecycledDeletion.objects.get()


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_tab_needs_a_login_and_membership(
    client: Client, as_user: AsUser, carol: User, deleted: RecycledDeletion
) -> None:
    assert client.get(URL)["Location"].startswith("/login/")
    assert as_user(carol).get(URL).status_code == 404


def test_a_developer_reads_the_bin_but_may_not_restore_or_delete(
    as_user: AsUser, bob: User, deleted: RecycledDeletion, app_image: PushedImage
) -> None:
    client = as_user(bob)

    page = client.get(URL).content.decode()

    assert "<code title=" in page and ">1.0</code>" in page
    assert app_image.digest[:15] + "…" in page
    assert "Restore" not in page and "Delete permanently" not in page
    assert client.post(f"{URL}{deleted.pk}/restore/").status_code == 404
    assert client.post(f"{URL}{deleted.pk}/delete/").status_code == 404
    assert RecycledDeletion.objects.filter(pk=deleted.pk).exists()


def test_a_maintainer_restores_and_the_tag_is_back_on_its_digest(
    as_user: AsUser, maya: User, deleted: RecycledDeletion, app_image: PushedImage
) -> None:
    client = as_user(maya)
    assert 'href="/projects/team/recycle-bin/"' in client.get("/projects/team/").content.decode()

    restored = client.post(f"{URL}{deleted.pk}/restore/", follow=True)

    assert messages_of(restored) == ["Restored in team/app: 1.0."]
    assert "The recycle bin is empty." in restored.content.decode()
    assert Tag.objects.get(name="1.0").manifest.digest == app_image.digest
    again = client.post(f"{URL}{deleted.pk}/restore/", follow=True)
    assert messages_of(again) == [
        "That deletion is no longer in the recycle bin: restored, deleted permanently, or its window ended."
    ]


def test_a_restore_that_would_move_a_tag_says_why_and_restores_nothing(
    as_user: AsUser, maya: User, deleted: RecycledDeletion, push_image: Any
) -> None:
    moved = push_image("team/app", "1.0", layers=[b"pushed since"])

    response = as_user(maya).post(f"{URL}{deleted.pk}/restore/", follow=True)

    (message,) = messages_of(response)
    assert message.startswith(f"Nothing was restored: tag 1.0 now points to {moved.digest}")
    assert Tag.objects.get(name="1.0").manifest.digest == moved.digest


def test_a_maintainer_deletes_permanently_after_a_confirmation_naming_the_bytes(
    as_user: AsUser, maya: User, deleted: RecycledDeletion
) -> None:
    client = as_user(maya)
    page = client.get(URL).content.decode()
    freed = binary_size(len(b"base layer bytes") + len(b"app layer") + len(CONFIG))

    assert f"the next garbage collection frees {freed}" in page.replace("&nbsp;", "\xa0")
    response = client.post(f"{URL}{deleted.pk}/delete/", follow=True)

    assert messages_of(response) == ["Deleted permanently: the next garbage collection frees what only it kept."]
    assert not RecycledDeletion.objects.exists()


def test_a_project_admin_sets_the_window(as_user: AsUser, alice: User, bob: User, team: Project) -> None:
    assert as_user(bob).post(f"{URL}window/", {"recycle_seconds": "60"}).status_code == 404

    saved = as_user(alice).post(f"{URL}window/", {"recycle_seconds": "3600"}, follow=True)
    refused = as_user(alice).post(f"{URL}window/", {"recycle_seconds": "-5"})

    assert messages_of(saved) == ["Saved: deletions from now on stay in the recycle bin for the new window."]
    assert "stay here for 1\xa0h" in saved.content.decode()
    assert refused.status_code == 400
    team.refresh_from_db()
    assert team.recycle_seconds == 3600


def test_the_usage_tab_shows_the_bytes_in_the_bin(
    as_user: AsUser, bob: User, deleted: RecycledDeletion, app_image: PushedImage
) -> None:
    page = as_user(bob).get("/projects/team/usage/").content.decode()

    in_the_bin = len(b"base layer bytes") + len(b"app layer") + len(CONFIG)
    assert f'data-recycled-bytes="{in_the_bin}"' in page


def test_the_confirmation_says_when_the_bytes_are_freed(as_user: AsUser, maya: User, app_image: PushedImage) -> None:
    response = as_user(maya).get("/repositories/team/app/-/delete/", {"mode": "images", "tag": "1.0"})
    plan = plan_deletion("team/app", digests=[app_image.digest])
    text = response.content.decode()

    assert plan.restorable_until is not None
    assert f'data-bytes-freed="{plan.bytes_freed}"' in text
    assert "at the first garbage collection after <time datetime=" in text
    assert "data-restorable-until" in text
    assert "stays in the project's recycle bin, restorable" in text


def test_the_garbage_collection_page_shows_what_the_bins_keep(
    as_user: AsUser, root: User, deleted: RecycledDeletion, settings: Any
) -> None:
    # Without a grace window only the bin keeps the deleted image's bytes from a collection now.
    settings.REGISTRY_GC_GRACE_SECONDS = 0
    page = as_user(root).get("/admin/garbage-collection/").content.decode()

    in_the_bin = len(b"base layer bytes") + len(b"app layer") + len(CONFIG)
    assert f'data-in-recycle-bin="{in_the_bin}"' in page
    assert 'data-freed-now="0"' in page


def test_a_window_longer_than_the_database_holds_is_a_form_error(as_user: AsUser, alice: User, team: Project) -> None:
    response = as_user(alice).post(f"{URL}window/", {"recycle_seconds": str(2**31)})

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "recycle_seconds": ["Ensure this value is less than or equal to 2147483647."]
    }
    team.refresh_from_db()
    assert team.recycle_seconds is None


def test_the_retention_simulation_says_its_bytes_wait_in_the_bin_until_the_window_ends(
    as_user: AsUser, alice: User, team: Project, push_image: PushImage
) -> None:
    for number in (1, 2):
        push_image("team/app", f"build-{number}", layers=[f"build {number}".encode()])
    Tag.objects.filter(name="build-2").update(updated_at="2030-01-01T00:00:00Z")
    policy = RetentionPolicy.objects.create(project=team)
    RetentionRule.objects.create(policy=policy, repositories="**", tags="build-*", keep_most_recent=1)

    text = as_user(alice).get("/projects/team/retention/", {"simulate": "1"}).content.decode()
    plan = plan_retention("team")

    assert plan.bytes_freed > 0 and plan.restorable_until is not None
    assert f'data-bytes-freed="{plan.bytes_freed}"' in text
    assert "at the first garbage collection after <time datetime=" in text
    assert "what it deletes stays in the project's recycle bin, restorable" in text
    assert "grace window.</p>" not in text


def test_a_project_whose_bin_holds_deletions_is_not_deleted_with_them(
    as_user: AsUser, root: User, app_image: PushedImage, settings: Any
) -> None:
    """Emptied of repositories, the project looks empty; deleting it would throw away what its bin
    promised to keep restorable."""
    execute_deletion("team/app", whole_repository=True)
    deletion = RecycledDeletion.objects.get()

    refused = as_user(root).post("/admin/projects/team/delete/", follow=True)

    assert messages_of(refused) == [
        f"Project team still holds 1 deletion in its recycle bin, restorable until "
        f"{deletion.expires_at:%Y-%m-%d %H:%M} UTC; delete it permanently there first."
    ]
    assert Project.objects.filter(name="team").exists()
    assert RecycledDeletion.objects.filter(id=deletion.id).exists()
    RecycledDeletion.objects.filter(id=deletion.id).update(expires_at=timezone.now())
    deleted = as_user(root).post("/admin/projects/team/delete/", follow=True)
    assert messages_of(deleted) == ["Project team deleted."]
