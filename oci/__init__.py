"""What the OCI distribution and image specs say about names, digests and media types.

No Django here: the registry (v2api) and identity (accounts) both use it, and it raises its own
small exceptions; v2api/errors.py turns them into OCI error responses under /v2/.
"""
