"""Artifacts in Chromium: an SBOM index reads as an SBOM, not a multi-platform index, and a tag
whose image is signed carries a "signed" badge, at desktop and phone widths."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from oci import media_types
from tests.browser.test_dashboard import LAPTOP, PHONE, log_in
from tests.conftest import PushedImage, PushImage, PushManifest, descriptor

pytestmark = pytest.mark.django_db(transaction=True)

SPDX = "application/spdx+json"


@pytest.fixture
def artifacts(registry: PushedImage, push_image: PushImage, push_manifest: PushManifest) -> str:
    """team/app:1.0 signed with notation, and an SBOM index tagged sbom; returns the index's digest."""
    push_image(
        "team/app",
        None,
        layers=(b"notation signature",),
        config=b"{}",
        config_media_type=media_types.OCI_EMPTY,
        artifactType="application/vnd.cncf.notary.signature",
        subject=descriptor(media_types.OCI_MANIFEST, registry.content),
    )
    sbom = push_image("team/app", None, layers=(b'{"spdxVersion": "SPDX-2.3"}',), config=b"{}", config_media_type=SPDX)
    entry = {"mediaType": media_types.OCI_MANIFEST, "digest": sbom.digest, "size": len(sbom.content)}
    document = {"schemaVersion": 2, "mediaType": media_types.OCI_INDEX, "artifactType": SPDX, "manifests": [entry]}
    return push_manifest("team/app", document, media_types.OCI_INDEX, "sbom").digest


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["desktop", "phone"])
def test_a_signed_tag_and_an_sbom_index_show_as_what_they_are(
    browser: Any, live_server: Any, artifacts: str, screenshot_dir: Path, viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport, is_mobile=viewport == PHONE)
    page = context.new_page()
    name = "desktop" if viewport == LAPTOP else "phone"
    try:
        log_in(page, live_server.url, "alice")
        page.goto(live_server.url + "/repositories/team/app/")
        signed_row = page.get_by_role("row").filter(has=page.get_by_role("link", name="1.0", exact=True))
        expect(signed_row.get_by_text("signed", exact=True)).to_be_visible()
        sbom_row = page.get_by_role("row").filter(has=page.get_by_role("link", name="sbom", exact=True))
        expect(sbom_row.get_by_text("signed", exact=True)).to_have_count(0)
        expect(sbom_row.get_by_text("SBOM", exact=True)).to_be_visible()
        page.screenshot(path=screenshot_dir / f"43-signed-tag-{name}.png", full_page=True)

        page.get_by_role("link", name="sbom", exact=True).click()
        page.wait_for_url(f"{live_server.url}/repositories/team/app/-/manifests/{artifacts}/")
        expect(page.locator(".page-head .badge")).to_have_text("SBOM")
        expect(page.get_by_text("multi-platform index")).to_have_count(0)
        expect(page.get_by_text("none given")).to_have_count(0)
        page.screenshot(path=screenshot_dir / f"44-sbom-index-{name}.png", full_page=True)
    finally:
        context.close()
