"""The headers every /v2/ answer is framed with, written once for the full stack's views and the
fast path (v2api/fast_reads.py) alike, so an answer does not depend on which of them gave it."""

API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"


def manifest_headers(media_type: str, digest: str, size: int) -> dict[str, str]:
    """end-3: a manifest's GET and HEAD; the body, if any, is the bytes exactly as pushed."""
    return {"Content-Type": media_type, "Docker-Content-Digest": digest, "Content-Length": str(size)}


def blob_head_headers(digest: str, size: int) -> dict[str, str]:
    """end-2: a blob's HEAD, answered from the database without opening the file."""
    return {
        "Content-Length": str(size),
        "Docker-Content-Digest": digest,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
    }
