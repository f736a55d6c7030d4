"""Deleting from the dashboard: select tags or images, confirm what goes and what it frees
(plan_deletion's own numbers), then a deletion job does it."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from registry_ui.templatetags.sizes import binary_size
from tests.conftest import PushedImage, PushImage
from v2api.models import Job, Manifest, Repository, Tag
from v2api.services.deletion import plan_deletion

AsUser = Callable[[User], Client]
DEFAULT_CONFIG = b'{"architecture": "amd64", "os": "linux"}'  # what push_image uses without `config`
DELETE_URL = "/repositories/team/app/-/delete/"


@pytest.fixture
def two_tags(app_image: PushedImage, push_image: PushImage) -> PushedImage:
    """team/app:1.0 (app_image) and team/app:2.0, which shares the base layer and adds its own."""
    return push_image("team/app", "2.0", layers=(b"base layer bytes", b"two point oh layer"))


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_deleting_needs_a_login(client: Client, app_image: PushedImage) -> None:
    assert client.get(DELETE_URL, {"mode": "tags", "tag": "1.0"})["Location"].startswith("/login/")


def test_an_outsider_gets_404(as_user: AsUser, carol: User, app_image: PushedImage) -> None:
    assert as_user(carol).get(DELETE_URL, {"mode": "tags", "tag": "1.0"}).status_code == 404
    assert as_user(carol).post(DELETE_URL, {"mode": "tags", "tag": "1.0"}).status_code == 404


def test_a_developer_sees_no_selection_and_may_not_delete(as_user: AsUser, bob: User, app_image: PushedImage) -> None:
    client = as_user(bob)
    page = client.get("/repositories/team/app/").content.decode()
    assert 'name="tag"' not in page and "Delete repository" not in page
    assert "Delete image" not in client.get(f"/repositories/team/app/-/manifests/{app_image.digest}/").content.decode()

    refused = client.post(DELETE_URL, {"mode": "tags", "tag": "1.0"}, follow=True)
    assert refused.redirect_chain == [("/repositories/team/app/", 302)]
    assert "You may not delete in team/app" in messages_of(refused)[0]
    assert not Job.objects.exists()
    assert Tag.objects.filter(name="1.0").exists()


def test_a_maintainer_selects_tags_with_their_sizes(as_user: AsUser, maya: User, two_tags: PushedImage) -> None:
    page = as_user(maya).get("/repositories/team/app/")
    text = page.content.decode()
    assert 'name="tag" value="1.0"' in text and 'name="tag" value="2.0"' in text
    assert "Untag selected" in text and "Delete selected images" in text and "Delete repository" in text
    # An image's size is its config and layers.
    sizes = {row.name: row.size for row in page.context["page"].rows}
    assert sizes["2.0"] == len(DEFAULT_CONFIG) + len(b"base layer bytes") + len(b"two point oh layer")


def test_the_confirmation_says_what_goes_and_the_bytes_plan_deletion_frees(
    as_user: AsUser, maya: User, two_tags: PushedImage
) -> None:
    response = as_user(maya).get(DELETE_URL, {"mode": "images", "tag": "2.0"})
    plan = plan_deletion("team/app", digests=[two_tags.digest])
    text = response.content.decode()
    assert response.status_code == 200
    assert plan.bytes_freed == len(DEFAULT_CONFIG) + len(b"two point oh layer")  # the shared base layer stays
    assert f'data-bytes-freed="{plan.bytes_freed}"' in text
    assert binary_size(plan.bytes_freed) in text
    assert "team/app:2.0" in text and two_tags.digest[:19] in text
    assert "team/app:1.0" not in text
    # The confirmation posts digests, so what was confirmed is what goes even if the tag moves.
    assert f'name="digest" value="{two_tags.digest}"' in text
    assert "csrfmiddlewaretoken" in text


def test_the_confirmation_states_the_grace_window_from_the_setting(
    as_user: AsUser, maya: User, two_tags: PushedImage, settings: Any
) -> None:
    settings.REGISTRY_GC_GRACE_SECONDS = 3 * 3600
    text = as_user(maya).get(DELETE_URL, {"mode": "images", "tag": "2.0"}).content.decode()
    assert "at the next garbage collection, once older than the 3\xa0h grace window" in text


def test_untagging_leaves_an_image_another_tag_keeps(
    as_user: AsUser, maya: User, app_image: PushedImage, push_manifest: Any
) -> None:
    Tag.objects.create(
        repository=Repository.objects.get(name="team/app"),
        name="latest",
        manifest=Manifest.objects.get(digest=app_image.digest),
    )
    text = as_user(maya).get(DELETE_URL, {"mode": "tags", "tag": "latest"}).content.decode()
    assert "team/app:latest" in text
    assert "0 images" in text and 'data-bytes-freed="0"' in text


def test_confirming_requests_a_deletion_job_and_shows_it(
    as_user: AsUser,
    maya: User,
    two_tags: PushedImage,
    eager_jobs: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = as_user(maya)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DELETE_URL, {"mode": "tags", "tag": ["2.0"]})
    job = Job.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.state, job.requested_by) == (Job.Kind.DELETION, Job.State.SUCCEEDED, maya)
    assert job.parameters == {"repository": "team/app", "tags": ["2.0"], "digests": [], "whole_repository": False}
    assert list(Tag.objects.values_list("name", flat=True)) == ["1.0"]
    page = client.get(response["Location"]).content.decode()
    assert "succeeded" in page and "Deletion in team/app" in page and "2.0" in page


def test_deleting_an_image_from_its_page_takes_every_tag_on_it(
    as_user: AsUser, alice: User, app_image: PushedImage, eager_jobs: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = as_user(alice)
    image_page = client.get(f"/repositories/team/app/-/manifests/{app_image.digest}/").content.decode()
    assert "Delete image" in image_page
    confirmation = client.get(DELETE_URL, {"mode": "images", "digest": app_image.digest}).content.decode()
    assert "team/app:1.0" in confirmation
    with django_capture_on_commit_callbacks(execute=True):
        client.post(DELETE_URL, {"mode": "images", "digest": app_image.digest})
    assert not Manifest.objects.filter(digest=app_image.digest).exists()
    assert Job.objects.get().result["manifests"] == [app_image.digest]


def test_deleting_the_repository_names_everything_and_the_job_links_back_to_the_project(
    as_user: AsUser, root: User, two_tags: PushedImage, eager_jobs: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = as_user(root)
    confirmation = client.get(DELETE_URL, {"mode": "repository"})
    assert confirmation.context["plan"].tags == ["1.0", "2.0"]
    assert "Delete the repository team/app?" in confirmation.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DELETE_URL, {"mode": "repository"})
    assert not Repository.objects.filter(name="team/app").exists()
    assert 'href="/projects/team/"' in client.get(response["Location"]).content.decode()


def test_a_selection_already_deleted_says_so(as_user: AsUser, maya: User, app_image: PushedImage) -> None:
    response = as_user(maya).get(DELETE_URL, {"mode": "tags", "tag": "gone"}, follow=True)
    assert response.redirect_chain == [("/repositories/team/app/", 302)]
    assert messages_of(response) == ["Nothing to delete: what you selected was already deleted."]


def test_a_confirmation_posted_twice_finds_nothing_the_second_time(
    as_user: AsUser, maya: User, two_tags: PushedImage, eager_jobs: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = as_user(maya)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(DELETE_URL, {"mode": "tags", "tag": "2.0"})
    again = client.post(DELETE_URL, {"mode": "tags", "tag": "2.0"}, follow=True)
    assert "Nothing to delete: what you selected was already deleted." in messages_of(again)
    assert Job.objects.count() == 1


def test_submitting_nothing_selected_asks_for_a_selection(as_user: AsUser, maya: User, app_image: PushedImage) -> None:
    response = as_user(maya).get(DELETE_URL, {"mode": "tags"}, follow=True)
    assert messages_of(response) == ["Select at least one tag."]


def test_confirming_without_the_csrf_token_is_refused(maya: User, app_image: PushedImage) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(maya)
    assert client.post(DELETE_URL, {"mode": "tags", "tag": "1.0"}).status_code == 403
    assert Tag.objects.filter(name="1.0").exists()


def test_a_repository_of_many_tags_is_confirmed_by_counts_and_listed_a_page_at_a_time(
    as_user: AsUser, maya: User, app_image: PushedImage, push_image: PushImage
) -> None:
    image = Manifest.objects.get(digest=app_image.digest)
    Tag.objects.bulk_create(Tag(repository=image.repository, name=f"build-{n:03}", manifest=image) for n in range(120))
    client = as_user(maya)

    first = client.get(DELETE_URL, {"mode": "repository"}).content.decode()
    third = client.get(DELETE_URL, {"mode": "repository", "page": 3}).content.decode()

    assert "<h2>121 tags</h2>" in first
    # 1.0 first, then build-000 to build-048.
    assert first.count("<li><code>team/app:") == 50 and "build-048<" in first and "build-049<" not in first
    assert "Listed: page 1 of 3" in first and 'href="?mode=repository&amp;page=2"' in first
    assert "Confirming deletes all 121 tags and 1 image, not only this page." in first
    assert third.count("<li><code>team/app:") == 21 and "team/app:build-119" in third
