"""The name a proxy-cache project asks its upstream for: the part below the project, with Docker
Hub's `library/` completed for its official images, as docker does."""

import pytest

from v2api.upstream import Upstream


@pytest.mark.parametrize(
    "base_url, local_name, upstream_name",
    [
        ("https://registry-1.docker.io", "hub/alpine", "library/alpine"),
        ("https://registry-1.docker.io", "hub/library/alpine", "library/alpine"),
        ("https://registry-1.docker.io", "hub/grafana/grafana", "grafana/grafana"),
        ("https://ghcr.io", "gh/alpine", "alpine"),
        ("http://127.0.0.1:5000", "lan/team/app/server", "team/app/server"),
    ],
)
def test_the_upstream_name_drops_the_project_and_completes_docker_hubs_library(
    base_url: str, local_name: str, upstream_name: str
) -> None:
    assert Upstream(base_url).repository_name(local_name) == upstream_name
