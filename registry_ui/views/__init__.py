"""The dashboard's pages, one module per page group. Every view starts with a permission lookup
from access.py (404 when the user may not see the thing), then reads or calls a service."""
