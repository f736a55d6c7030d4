"""The company's directories as settings, read from the environment: LDAP or Active Directory
(django-auth-ldap's AUTH_LDAP_*) and an OpenID Connect provider (mozilla-django-oidc's OIDC_*).
Without REGISTRY_LDAP_URI and REGISTRY_OIDC_CLIENT_ID only local accounts log in.

django-auth-ldap (on python-ldap, i.e. OpenLDAP's own client library) over ldap3: it is kept up,
it already does what a registry needs (search-then-bind, groups of every common schema, nested
Active Directory groups, a flag such as is_superuser from a group, groups mirrored on each
login), and libldap's StartTLS, CA and timeout options are the ones every directory admin knows.

mozilla-django-oidc over authlib for OpenID Connect: it is a Django authentication backend with its
login and callback views, PKCE, nonce and ID-token signature checks built in (the audience, a
clock leeway, the userinfo subject and answering only its callback are added in
accounts/single_sign_on.py); authlib is a toolkit from which those views would be ours to write.
It does no discovery and no logout at the provider: accounts/single_sign_on_provider.py and the
dashboard's logout add them.
"""

from typing import Any

import ldap
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap.config import (
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPSearch,
    NestedActiveDirectoryGroupType,
    PosixGroupType,
)

from registry_ui.env import env_bool, env_choice, env_int, env_secret, env_str

GROUP_NAME_LENGTH = 150  # auth.Group.name


class _StorableGroupNames:
    """A group type whose groups with a name longer than a Django group's (a cn may be) are left
    out of the mirrored groups, instead of failing every login of their people in Postgres."""

    def group_name_from_info(self, group_info: Any) -> str | None:
        name: str | None = super().group_name_from_info(group_info)  # type: ignore[misc]
        return name if name is not None and len(name) <= GROUP_NAME_LENGTH else None


GROUP_TYPES = {
    name: type(group_type.__name__, (_StorableGroupNames, group_type), {})
    for name, group_type in {
        "groupOfNames": GroupOfNamesType,
        "groupOfUniqueNames": GroupOfUniqueNamesType,
        "posixGroup": PosixGroupType,
        "activeDirectory": NestedActiveDirectoryGroupType,
    }.items()
}
# Local accounts first: the administrator logs in without asking the directory, even while it is down.
LOCAL = "django.contrib.auth.backends.ModelBackend"
LDAP = "accounts.directory.DirectoryBackend"
SINGLE_SIGN_ON = "accounts.single_sign_on.SingleSignOnBackend"


def directory_settings() -> dict[str, Any]:
    """AUTHENTICATION_BACKENDS and the settings of each configured directory."""
    ldap_settings = _ldap_settings()
    single_sign_on = _single_sign_on_settings()
    backends = [LOCAL, *([LDAP] if ldap_settings else []), *([SINGLE_SIGN_ON] if single_sign_on else [])]
    return {"AUTHENTICATION_BACKENDS": backends, **ldap_settings, **single_sign_on}


def _single_sign_on_settings() -> dict[str, Any]:
    """The dashboard's login through an OpenID Connect provider: authorization code with PKCE."""
    client_id = env_str("REGISTRY_OIDC_CLIENT_ID", "")
    if not client_id:
        return {}
    ca_file = env_str("REGISTRY_OIDC_CA_FILE", "")
    # With an issuer, endpoints not set are read from its discovery document when first needed
    # (accounts/single_sign_on_provider.py); without one, each must be set.
    issuer = env_str("REGISTRY_OIDC_ISSUER", "")
    endpoint_default = "" if issuer else None
    return {
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": env_secret("REGISTRY_OIDC_CLIENT_SECRET"),
        "REGISTRY_OIDC_ISSUER": issuer,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": env_str("REGISTRY_OIDC_AUTHORIZATION_ENDPOINT", endpoint_default),
        "OIDC_OP_TOKEN_ENDPOINT": env_str("REGISTRY_OIDC_TOKEN_ENDPOINT", endpoint_default),
        "OIDC_OP_USER_ENDPOINT": env_str("REGISTRY_OIDC_USERINFO_ENDPOINT", endpoint_default),
        "OIDC_OP_JWKS_ENDPOINT": env_str("REGISTRY_OIDC_JWKS_ENDPOINT", endpoint_default),
        "REGISTRY_OIDC_END_SESSION_ENDPOINT": env_str("REGISTRY_OIDC_END_SESSION_ENDPOINT", ""),
        # The dashboard's logout also ends the person's session at the provider, when it has an
        # end_session_endpoint (RP-Initiated Logout): the ID token is kept in the session for it.
        "REGISTRY_OIDC_PROVIDER_LOGOUT": env_bool("REGISTRY_OIDC_PROVIDER_LOGOUT", True),
        "OIDC_STORE_ID_TOKEN": True,
        "OIDC_RP_SIGN_ALGO": env_choice("REGISTRY_OIDC_SIGNING_ALGORITHM", "RS256", ("RS256", "ES256", "PS256")),
        "OIDC_RP_SCOPES": env_str("REGISTRY_OIDC_SCOPES", "openid profile email groups"),
        "OIDC_USE_PKCE": True,
        "OIDC_TIMEOUT": env_int("REGISTRY_OIDC_TIMEOUT", 5, minimum=1),
        "OIDC_VERIFY_SSL": ca_file or True,
        "LOGIN_REDIRECT_URL_FAILURE": "/login/?single-sign-on=failed",
    }


def _ldap_settings() -> dict[str, Any]:
    """django-auth-ldap's AUTH_LDAP_* settings for the configured directory; none without one."""
    uri = env_str("REGISTRY_LDAP_URI", "")
    if not uri:
        return {}
    user_filter = env_str("REGISTRY_LDAP_USER_FILTER", "(uid=%(user)s)")
    if "%(user)s" not in user_filter:
        raise ImproperlyConfigured(f"REGISTRY_LDAP_USER_FILTER={user_filter!r} must contain %(user)s")
    timeout = env_int("REGISTRY_LDAP_TIMEOUT", 5, minimum=1)
    options: dict[int, Any] = {
        # Connecting, and waiting for each answer; accounts/directory.py also bounds the whole
        # conversation of a login by REGISTRY_LDAP_TIMEOUT, where libldap's own options do not
        # (an ldaps:// handshake with a stalled directory).
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        # Active Directory answers searches with referrals that libldap would chase anonymously.
        ldap.OPT_REFERRALS: 0,
    }
    ca_file = env_str("REGISTRY_LDAP_CA_FILE", "")
    if ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        # Last: a new TLS context takes the options set before it.
        options[ldap.OPT_X_TLS_NEWCTX] = 0
    settings: dict[str, Any] = {
        "AUTH_LDAP_SERVER_URI": uri,
        "AUTH_LDAP_BIND_DN": env_str("REGISTRY_LDAP_BIND_DN", ""),
        "AUTH_LDAP_BIND_PASSWORD": env_secret("REGISTRY_LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_START_TLS": env_bool("REGISTRY_LDAP_START_TLS", False),
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(env_str("REGISTRY_LDAP_USER_SEARCH_BASE"), ldap.SCOPE_SUBTREE, user_filter),
        "AUTH_LDAP_USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
    }
    group_base = env_str("REGISTRY_LDAP_GROUP_SEARCH_BASE", "")
    if group_base:
        group_type = GROUP_TYPES[env_choice("REGISTRY_LDAP_GROUP_TYPE", "groupOfNames", tuple(GROUP_TYPES))]
        group_filter = env_str("REGISTRY_LDAP_GROUP_FILTER", "(objectClass=groupOfNames)")
        settings |= {
            "AUTH_LDAP_GROUP_SEARCH": LDAPSearch(group_base, ldap.SCOPE_SUBTREE, group_filter),
            "AUTH_LDAP_GROUP_TYPE": group_type(name_attr="cn"),
            # Each login copies the person's groups (by cn) onto their user, where project roles
            # given to groups find them (accounts/permissions.py).
            "AUTH_LDAP_MIRROR_GROUPS": True,
        }
    admin_group = env_str("REGISTRY_LDAP_ADMIN_GROUP", "")
    if admin_group:
        if not group_base:
            raise ImproperlyConfigured("REGISTRY_LDAP_ADMIN_GROUP needs REGISTRY_LDAP_GROUP_SEARCH_BASE")
        # Set or cleared on every login: leaving the group ends the rights at the next one.
        settings["AUTH_LDAP_USER_FLAGS_BY_GROUP"] = {"is_superuser": admin_group}
    return settings
