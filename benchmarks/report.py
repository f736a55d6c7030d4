"""The figures: collected per registry, printed side by side with their ratio, written as JSON."""

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

MIB = 1024 * 1024


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    higher_is_better: bool


@dataclass
class Recorder:
    """Figures in the order they were first measured, with one value per registry."""

    figures: dict[str, Figure] = field(default_factory=dict)
    values: dict[str, dict[str, float]] = field(default_factory=dict)

    def record(self, registry: str, key: str, label: str, unit: str, higher_is_better: bool, value: float) -> None:
        self.figures.setdefault(key, Figure(key, label, unit, higher_is_better))
        self.values.setdefault(key, {})[registry] = value
        print(f"  {registry:<12} {label}: {format_value(value)} {unit}", flush=True)


NOTES = [
    "harbor-lite runs with token auth on: every /v2/ request of the harness sends a bearer token "
    "(the administrator's, one per scope, renewed before it expires); the reference has no auth.",
    "Hot paths: the reference is measured once, without auth; its figures stand against both of "
    "ours, 'token auth' (a pull token fetched once, private project) and 'auth off' (anonymous, "
    "public project).",
    "GC: ours collects online (manage.py collectgarbage --grace-seconds 0) while clients keep "
    "pushing; the reference's garbage-collect needs the registry stopped (or read-only) and ran "
    "offline, after the server stopped. Blobs deleted include the blobs of earlier phases that "
    "no image references.",
    "S3 (section s3): both registries keep blobs in one SeaweedFS the run starts, each as two nodes "
    "on one bucket: 'through the registry' streams blob GETs, 'redirected' answers 307 to a "
    "presigned URL that the harness follows without the registry's token.",
]


def describe_machine(reference_binary: Path) -> dict[str, object]:
    cpu_model = "unknown"
    memory_kib = 0
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    reference_version = subprocess.run(
        [str(reference_binary), "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_kib / MIB, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "reference": reference_version,
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"


def ratio_of(values: dict[str, float]) -> float | None:
    ours, reference = values.get("harbor-lite"), values.get("reference")
    if ours is None or reference is None or reference == 0:
        return None
    return ours / reference


def print_report(machine: dict[str, object], mode: str, recorder: Recorder) -> None:
    print(f"\nmachine: {machine['cores']} cores, {machine['cpu_model']}, {machine['memory_gib']} GiB, ", end="")
    print(f"load average at start {machine['load_average_at_start']}")
    print(f"mode: {mode}; ratio is harbor-lite / reference; ↑ higher is better, ↓ lower is better\n")
    print(f"{'figure':<78} {'unit':<12} {'harbor-lite':>12} {'reference':>12} {'ratio':>8}")
    for key, figure in recorder.figures.items():
        values = recorder.values[key]
        ratio = ratio_of(values)
        unit = f"{figure.unit} {'↑' if figure.higher_is_better else '↓'}"
        print(
            f"{figure.label:<78} {unit:<12} {format_value(values.get('harbor-lite')):>12} "
            f"{format_value(values.get('reference')):>12} {'-' if ratio is None else f'{ratio:.2f}x':>8}"
        )
    print()
    for text in NOTES:
        print(f"note: {text}")


def write_json(
    path: Path, machine: dict[str, object], workload: dict[str, object], recorder: Recorder, failure: str | None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "workload": workload,
        "figures": [
            {**asdict(figure), **recorder.values[key], "ratio": ratio_of(recorder.values[key])}
            for key, figure in recorder.figures.items()
        ],
        "notes": NOTES,
        "failure": failure,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nfigures written to {path}")
