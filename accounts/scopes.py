"""Token scopes, `repository:<name>:<actions>` and `registry:catalog:*`, for both sides of
the Docker token flow: the token endpoint reads them, the registry names them in challenges."""

from dataclasses import dataclass

PULL, PUSH, DELETE = "pull", "push", "delete"
REPOSITORY_ACTIONS = frozenset({PULL, PUSH, DELETE})
WILDCARD = "*"


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> "Scope | None":
        """`repository:team/app:pull,push` -> Scope; None for text that is not a scope.

        The name may hold a port-free host part with colons only in theory; the actions are
        whatever follows the last colon, as docker and distribution split it.
        """
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        if not kind or not name:
            return None
        return cls(kind, name, frozenset(action for action in actions.split(",") if action))

    def expanded(self) -> "Scope":
        """`*` asks for every action (skopeo delete asks for `repository:<name>:*`)."""
        if self.type == "repository" and WILDCARD in self.actions:
            return Scope(self.type, self.name, REPOSITORY_ACTIONS)
        return self

    def __str__(self) -> str:
        order = [PULL, PUSH, DELETE, WILDCARD]
        actions = sorted(self.actions, key=lambda action: (order.index(action) if action in order else 9, action))
        return f"{self.type}:{self.name}:{','.join(actions)}"

    def as_claim(self) -> dict[str, object]:
        """The entry of a token's `access` claim."""
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


CATALOG = Scope("registry", "catalog", frozenset({WILDCARD}))


def repository_scope(name: str, *actions: str) -> Scope:
    return Scope("repository", name, frozenset(actions))
