"""The OpenAPI schema of the management API (drf-spectacular), served at /api/v1/schema/."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

MANAGEMENT_PREFIX = "/api/v1/"


def only_management_api(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Describe /api/v1/ only: the /v2/ registry and /auth/token follow their own specs."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(MANAGEMENT_PREFIX)]


class LoginAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """HTTP Basic, with a password, a personal access token or a robot secret as the password."""

    target_class = "accounts.api.authentication.LoginAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "A password, a personal access token, or a robot account's `robot$<project>+<name>` "
            "and secret.",
        }
