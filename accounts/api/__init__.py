"""The management JSON API under /api/v1/: users, projects, members, robot accounts and personal
access tokens, with the permission answers of accounts/permissions.py."""
