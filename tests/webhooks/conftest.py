"""The project `team` whose webhooks the tests add, and its personas (tests/personas.py)."""

from tests.personas import alice, carol, maya, team

__all__ = ["alice", "carol", "maya", "team"]
