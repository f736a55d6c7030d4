"""The registry's part of the management JSON API under /api/v1/: jobs, retention policies, space
usage and deletion plans. It builds on accounts/api's authentication, permission classes and
ManagementView, which ask accounts/permissions.py who may do what."""
