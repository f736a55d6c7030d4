"""What the specs say, with nothing of Django in it: the OCI distribution and image specs' names,
digests and media types, and the HTTP edge of a request (request_edge.py: the Authorization
header, the client address, the request id, the /v2/ routes).

The registry (v2api) and identity (accounts) both use it; it raises its own small exceptions,
which v2api/errors.py turns into OCI error responses under /v2/.
"""
