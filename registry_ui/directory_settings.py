"""The company directory (LDAP, Active Directory) as django-auth-ldap's settings, read from the
environment. Without REGISTRY_LDAP_URI there is no directory and only local accounts log in.

django-auth-ldap (on python-ldap, i.e. OpenLDAP's own client library) over ldap3: it is kept up,
it already does what a registry needs (search-then-bind, groups of every common schema, nested
Active Directory groups, a flag such as is_superuser from a group, groups mirrored on each
login), and libldap's StartTLS, CA and timeout options are the ones every directory admin knows.
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

GROUP_TYPES = {
    "groupOfNames": GroupOfNamesType,
    "groupOfUniqueNames": GroupOfUniqueNamesType,
    "posixGroup": PosixGroupType,
    "activeDirectory": NestedActiveDirectoryGroupType,
}
LOCAL_ONLY = ["django.contrib.auth.backends.ModelBackend"]
# Local accounts first: the administrator logs in without asking the directory, even while it is down.
WITH_DIRECTORY = [*LOCAL_ONLY, "accounts.directory.DirectoryBackend"]


def directory_settings() -> dict[str, Any]:
    """AUTHENTICATION_BACKENDS and the AUTH_LDAP_* settings for the configured directory."""
    uri = env_str("REGISTRY_LDAP_URI", "")
    if not uri:
        return {"AUTHENTICATION_BACKENDS": LOCAL_ONLY}
    user_filter = env_str("REGISTRY_LDAP_USER_FILTER", "(uid=%(user)s)")
    if "%(user)s" not in user_filter:
        raise ImproperlyConfigured(f"REGISTRY_LDAP_USER_FILTER={user_filter!r} must contain %(user)s")
    timeout = env_int("REGISTRY_LDAP_TIMEOUT", 5, minimum=1)
    options: dict[int, Any] = {
        # Connecting, and waiting for each answer: a dead or stalled directory fails a login in
        # seconds instead of holding a worker thread.
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
        "AUTHENTICATION_BACKENDS": WITH_DIRECTORY,
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
