"""The OpenAPI schema of the management API (drf-spectacular), served at /api/v1/schema/."""

from typing import Any

MANAGEMENT_PREFIX = "/api/v1/"


def only_management_api(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Describe /api/v1/ only: the /v2/ registry and /auth/token follow their own specs."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(MANAGEMENT_PREFIX)]
