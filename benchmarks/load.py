"""Concurrent load on one URL with C load generators: Python threads would saturate before
either registry does, and measure the GIL instead of the server.

wrk (multi-threaded, event loops) for GET. It cannot do HEAD: its parser waits for the body
that a HEAD answer's Content-Length announces, so every request times out. HEAD goes through
ApacheBench (`ab -i`), one event loop, still far above what either registry answers here.
"""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass

WRK = "/usr/bin/wrk"
AB = "/usr/bin/ab"
# wrk's done() hook prints one JSON line; latencies are in microseconds. errors.status counts
# answers of 400 and above, the others are socket errors and timeouts.
LUA_SCRIPT = """\
wrk.method = "{method}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"error_status": %d, "socket_errors": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _check_local(url: str) -> None:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the benchmark only loads 127.0.0.1")


def run_load(url: str, method: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
    """`connections` keep-alive connections sending `method` to `url` for `seconds`."""
    if method == "HEAD":
        return run_ab_head(url, headers, connections, seconds)
    threads = max(1, min(4, os.cpu_count() or 1, connections))
    return run_wrk(url, method, headers, connections, seconds, threads)


def run_wrk(
    url: str, method: str, headers: dict[str, str], connections: int, seconds: float, threads: int
) -> LoadResult:
    """`connections` keep-alive connections on `threads` wrk threads for `seconds`."""
    _check_local(url)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(LUA_SCRIPT.format(method=method))
        script.flush()
        command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
        command += ["-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        completed = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            figures = json.loads(line.removeprefix("WRK_RESULT "))
            return LoadResult(
                requests_per_second=figures["requests"] / (figures["duration_us"] / 1e6),
                p50_ms=figures["p50_us"] / 1000,
                p99_ms=figures["p99_us"] / 1000,
                errors=figures["error_status"] + figures["socket_errors"],
            )
    raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")


def run_ab_head(url: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
    """HEAD requests on `connections` keep-alive connections for `seconds`, through ab."""
    _check_local(url)
    with tempfile.NamedTemporaryFile("r", suffix=".csv") as percentiles:
        # -t alone caps the run at 50,000 requests; -n after it lifts that cap (the time still ends it).
        command = [AB, "-q", "-i", "-k", "-c", str(connections), "-t", str(max(1, round(seconds)))]
        command += ["-n", "100000000", "-e", percentiles.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        completed = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True)
        # One line per percentage: "99,12.345" (milliseconds).
        by_percent = dict(line.split(",", 1) for line in percentiles.read().splitlines()[1:] if "," in line)
    summary = {}
    for line in completed.stdout.splitlines():
        name, _, value = line.partition(":")
        summary[name.strip()] = value.strip().split(" ")[0]
    if "Requests per second" not in summary:
        raise RuntimeError(f"ab printed no result:\n{completed.stdout}\n{completed.stderr}")
    return LoadResult(
        requests_per_second=float(summary["Requests per second"]),
        p50_ms=float(by_percent["50"]),
        p99_ms=float(by_percent["99"]),
        errors=int(summary.get("Failed requests", "0")) + int(summary.get("Non-2xx responses", "0")),
    )
