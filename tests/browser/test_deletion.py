"""Deleting in a real browser: images pushed by skopeo, select one tag of two, confirm the bytes
to free, watch the job finish, then check through /v2/ over HTTP that the tag is gone and the
other still pulls. Also
the jobs, retention and storage pages, with screenshots under test-output/screenshots/."""

import base64
import hashlib
import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from accounts.models import Membership, Project, Role
from oci import media_types
from registry_ui.templatetags.sizes import binary_size
from tests.browser.test_dashboard import LAPTOP, PHONE, log_in
from tests.conftest import PASSWORD
from tests.e2e.images import OciLayout, build_image
from v2api.services.deletion import plan_deletion

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Pushed:
    digest: str


def skopeo_push(live_server: Any, layout: OciLayout, target: str) -> Pushed:
    """Push an OCI layout into the live server with skopeo, as a user's client would."""
    host = live_server.url.removeprefix("http://")
    reference = f"docker://{host}/{target}"
    copied = subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"root:{PASSWORD}", layout.reference, reference],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert copied.returncode == 0, copied.stderr
    inspected = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--tls-verify=false",
            "--creds",
            f"root:{PASSWORD}",
            "--format",
            "{{.Digest}}",
            reference,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return Pushed(inspected.stdout.strip())


@pytest.fixture
def two_tags(
    transactional_db: None, admin_user: User, live_server: Any, settings: Any, tmp_path: Path
) -> dict[str, Pushed]:
    """maya maintains `team`, whose team/app has 1.0 and 2.0, pushed by skopeo; 1.0 is also
    ops/tools:latest, so its layers are shared. Jobs run inline at commit, inside the live
    server's request, as a worker would right after."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    team = Project.objects.create(name="team")
    Project.objects.create(name="ops")
    maya = User.objects.create_user("maya", password=PASSWORD)
    Membership.objects.create(project=team, user=maya, role=Role.MAINTAINER)
    first = build_image(tmp_path / "first", tag="1.0", layer_sizes=(64 * 1024, 8 * 1024))
    second = build_image(tmp_path / "second", tag="2.0", layer_sizes=(96 * 1024, 16 * 1024))
    skopeo_push(live_server, first, "ops/tools:latest")
    return {
        "1.0": skopeo_push(live_server, first, "team/app:1.0"),
        "2.0": skopeo_push(live_server, second, "team/app:2.0"),
    }


def registry_get(base: str, path: str, accept: str = "") -> tuple[int, bytes]:
    """GET /v2/... over real HTTP as the administrator (HTTP Basic, as `docker pull` can)."""
    request = urllib.request.Request(base + path)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"root:{PASSWORD}".encode()).decode())
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def pull(base: str, name: str, tag: str) -> None:
    """Fetch the manifest and every blob it names, and check each digest."""
    status, manifest = registry_get(base, f"/v2/{name}/manifests/{tag}", accept=media_types.OCI_MANIFEST)
    assert status == 200, manifest
    document = json.loads(manifest)
    for descriptor in [document["config"], *document["layers"]]:
        status, blob = registry_get(base, f"/v2/{name}/blobs/{descriptor['digest']}")
        assert status == 200
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == descriptor["digest"]


def test_a_maintainer_deletes_one_tag_of_two_and_the_other_still_pulls(
    browser: Any, live_server: Any, two_tags: dict[str, Pushed], screenshot_dir: Path
) -> None:
    base = live_server.url
    doomed = two_tags["2.0"]
    expected = plan_deletion("team/app", digests=[doomed.digest]).bytes_freed
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, base, "maya")
        page.goto(base + "/repositories/team/app/")
        page.get_by_label("Select 2.0").check()
        assert page.get_by_text("1 selected.").is_visible()
        page.screenshot(path=screenshot_dir / "13-repository-select.png", full_page=True)

        page.get_by_role("button", name="Delete selected images").click()
        page.wait_for_url(f"{base}/repositories/team/app/-/delete/?*")
        assert page.locator("[data-bytes-freed]").get_attribute("data-bytes-freed") == str(expected)
        assert page.locator("[data-bytes-freed]").text_content() == binary_size(expected)
        assert page.get_by_text("team/app:2.0").is_visible()
        assert page.get_by_text("team/app:1.0").count() == 0
        page.screenshot(path=screenshot_dir / "14-delete-confirm.png", full_page=True)

        page.get_by_role("button", name="Delete", exact=True).click()
        page.wait_for_url(f"{base}/jobs/*/")
        page.locator(".badge-ok", has_text="succeeded").wait_for(timeout=15_000)
        assert page.get_by_text(binary_size(expected), exact=True).is_visible()
        page.screenshot(path=screenshot_dir / "15-job-finished.png", full_page=True)
    finally:
        context.close()

    status, _ = registry_get(base, "/v2/team/app/manifests/2.0", accept=media_types.OCI_MANIFEST)
    assert status == 404
    status, _ = registry_get(base, f"/v2/team/app/manifests/{doomed.digest}", accept=media_types.OCI_MANIFEST)
    assert status == 404
    pull(base, "team/app", "1.0")
    pull(base, "ops/tools", "latest")


def test_an_administrator_collects_garbage_and_reads_the_storage_and_retention_pages(
    browser: Any, live_server: Any, two_tags: dict[str, Pushed], screenshot_dir: Path
) -> None:
    base = live_server.url
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, base, "root")
        page.screenshot(path=screenshot_dir / "16-home-disk-used.png", full_page=True)
        page.get_by_role("link", name="Jobs").click()
        page.wait_for_url(base + "/jobs/")
        page.get_by_role("button", name="Start garbage collection").click()
        page.locator(".badge-ok", has_text="succeeded").wait_for(timeout=15_000)
        assert page.get_by_role("heading", name="Garbage collection (dry run)").is_visible()
        page.goto(base + "/jobs/")
        page.screenshot(path=screenshot_dir / "17-jobs.png", full_page=True)

        page.get_by_role("link", name="Storage").click()
        page.wait_for_url(base + "/admin/storage/")
        assert page.locator(".bar-chart li").count() == 2
        page.screenshot(path=screenshot_dir / "18-admin-storage.png", full_page=True)

        page.goto(base + "/projects/team/")
        page.screenshot(path=screenshot_dir / "19-project-disk-used.png", full_page=True)
        page.get_by_role("link", name="Retention").click()
        page.get_by_text("Add a rule").click()
        page.get_by_label("Tags", exact=True).fill("*")
        page.get_by_label("Number").fill("1")
        page.get_by_role("button", name="Add rule").click()
        page.get_by_text("Rule added.").wait_for()
        page.get_by_role("button", name="Simulate").click()
        page.get_by_role("heading", name="Simulation").wait_for()
        assert page.get_by_text("1.0", exact=True).is_visible()
        page.screenshot(path=screenshot_dir / "20-retention-simulation.png", full_page=True)
    finally:
        context.close()


def test_on_a_phone_without_javascript_a_deletion_confirms_and_the_job_page_refreshes_itself(
    browser: Any, live_server: Any, two_tags: dict[str, Pushed], screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "maya")
        page.goto(live_server.url + "/repositories/team/app/")
        page.get_by_label("Select 1.0").check()
        page.get_by_role("button", name="Untag selected").click()
        assert page.get_by_text("team/app:1.0").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=screenshot_dir / "21-phone-delete-confirm.png", full_page=True)
        page.get_by_role("button", name="Untag", exact=True).click()
        page.locator(".badge-ok", has_text="succeeded").wait_for(timeout=15_000)
        page.screenshot(path=screenshot_dir / "22-phone-job.png", full_page=True)
    finally:
        context.close()
