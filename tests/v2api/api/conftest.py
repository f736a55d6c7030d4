"""The management API's personas and its `api` caller: the same as tests/accounts', since the
registry's endpoints share accounts/api's authentication and base views (importing the fixtures
here is how pytest lets a second folder use them)."""

from tests.accounts.conftest import alice, api, carol, client, dave, eager, maya, root, shared, team

__all__ = ["alice", "api", "carol", "client", "dave", "eager", "maya", "root", "shared", "team"]
