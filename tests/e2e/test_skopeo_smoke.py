import subprocess
from pathlib import Path

from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import build_image


def test_skopeo_pushes_and_inspects_an_image(live_registry: LiveRegistry, tmp_path: Path) -> None:
    image = build_image(tmp_path / "layout", tag="v1")
    target = f"docker://{live_registry.host}/smoke/app:v1"
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", image.reference, target], check=True)
    inspected = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", target],
        check=True,
        capture_output=True,
        text=True,
    )
    assert inspected.stdout.strip() == image.manifest.digest
