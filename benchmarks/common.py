"""Helpers shared by the benchmark scripts: memory probes, timing, machine facts, fresh-process workers.

Memory is read from ``/proc/self/status``. Before a measured call the kernel's peak-RSS mark is reset to the
current RSS (``echo 5 > /proc/self/clear_refs``), so the peak (``VmHWM``) belongs to that call and not to whatever
the process did before it. ``ru_maxrss`` is not used: in a freshly started child it also holds the parent's RSS at
the exec. Where the reset is not available the peak is the peak since process start, and the records say so.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("benchmarks")

RESULT_PREFIX = "@@RESULT "
KIB = 1024


def setup_logging(verbose: bool = False) -> None:
    """Log progress to stderr with timestamps."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def _status_kib(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, flags=re.MULTILINE)
    return int(match.group(1)) if match else None


def rss_bytes() -> int:
    """Current resident set size of this process in bytes (``VmRSS``; falls back to ``ru_maxrss``)."""
    kib = _status_kib("VmRSS")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * KIB


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS; False where that is not supported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_bytes() -> int:
    """Peak RSS in bytes since the last :func:`reset_peak` (or since process start): ``VmHWM``.

    ``ru_maxrss`` is not used where ``VmHWM`` exists: in a child started by fork/vfork + exec it also holds the
    parent's RSS at the time of the exec, a floor of several hundred MB under every small measurement.
    """
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * KIB


def peak_method(reset_ok: bool) -> str:
    """How the peak was measured, for the records."""
    if reset_ok:
        return "VmHWM (peak RSS) after resetting it to the current RSS (clear_refs 5) just before the call"
    return "peak RSS since process start (peak reset unavailable)"


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA where one is present) as a device; ``cuda`` without one is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise SystemExit(f"--device must be cpu, cuda or auto, got {name!r}")
    return torch.device(name)


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (a no-op on CPU), so a wall-clock time covers the work itself."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device | str) -> str:
    """The CPU model or the GPU's name, for the tables."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return machine_info(1)["cpu"]


def reset_device_peak(device: torch.device | str) -> tuple[int, bool]:
    """Start a peak-memory measurement; returns the bytes in use now (RSS on CPU, allocated tensors on CUDA) and
    whether the peak could be reset (else the peak is the peak since process start).

    On CPU the kernel's peak-RSS mark is reset (see :func:`reset_peak`); on CUDA the caching allocator's peak
    statistics are reset, so cases can share one process there.
    """
    device = torch.device(device)
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device), True
    # The reset peak mark is the RSS by the same counter that gives the peak, so their difference is exact.
    if reset_peak():
        return peak_bytes(), True
    return rss_bytes(), False


def device_peak(device: torch.device | str) -> int:
    """Peak bytes since :func:`reset_device_peak`: ``VmHWM`` on CPU, ``torch.cuda.max_memory_allocated`` on CUDA."""
    device = torch.device(device)
    if device.type == "cuda":
        synchronize(device)
        return torch.cuda.max_memory_allocated(device)
    return peak_bytes()


def device_in_use(device: torch.device | str) -> int:
    """Bytes in use now: RSS on CPU, allocated tensors on CUDA."""
    device = torch.device(device)
    return torch.cuda.memory_allocated(device) if device.type == "cuda" else rss_bytes()


def device_peak_method(device: torch.device | str, reset_ok: bool = True) -> str:
    """How :func:`device_peak` measured, for the records."""
    if torch.device(device).type == "cuda":
        return "torch.cuda.max_memory_allocated after torch.cuda.reset_peak_memory_stats just before the call"
    return peak_method(reset_ok)


def time_calls(
    fn: Callable[[], Any],
    repeats: int,
    min_time: float = 0.0,
    max_repeats: int = 200,
    device: torch.device | str = "cpu",
) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` (more, up to ``max_repeats``, until ``min_time`` is spent).

    On CUDA the device is synchronised before the clock starts and before it stops.
    """
    times: list[float] = []
    spent = 0.0
    while len(times) < repeats or (spent < min_time and len(times) < max_repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
    return times


def matmul_gflops(
    threads: int,
    n: int = 2048,
    repeats: int = 5,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """The device's matmul rate in ``dtype`` (CPU: at ``threads`` threads): median and best over ``repeats``
    ``n x n`` products."""
    torch.set_num_threads(threads)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.zeros(n, n, device=device, dtype=dtype)
    torch.matmul(a, b, out=out)
    times = time_calls(lambda: torch.matmul(a, b, out=out), repeats, device=device)
    flops = 2.0 * n**3
    return {
        "n": n,
        "repeats": repeats,
        "median_gflops": flops / statistics.median(times) / 1e9,
        "best_gflops": flops / min(times) / 1e9,
    }


def machine_info(threads: int) -> dict[str, Any]:
    """Facts that make a result interpretable: CPU, cores, memory, versions, threads."""
    cpu = platform.processor()
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), flags=re.MULTILINE)
        if match:
            cpu = match.group(1).strip()
    except OSError:
        pass
    mem_total = None
    try:
        match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), flags=re.MULTILINE)
        if match:
            mem_total = int(match.group(1)) * KIB
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "mem_total_bytes": mem_total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def run_fresh(script: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one case in a fresh Python process (``script --worker``) and return its result record.

    The worker reads the spec as JSON from stdin and prints one line ``@@RESULT {json}``.
    """
    cmd = [sys.executable, script, "--worker"]
    try:
        proc = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"worker timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
    return {"status": "error", "reason": f"worker exited {proc.returncode} without a result: {tail}"}


def worker_main(run_case: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Entry point of a ``--worker`` process: one spec from stdin, one result line on stdout."""
    spec = json.loads(sys.stdin.read())
    try:
        result = run_case(spec)
    except Exception as exc:  # report any failure as a record, so the sweep goes on
        result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def fmt_bytes(n: float | None) -> str:
    """Human-readable bytes (MiB/GiB), '-' for None."""
    if n is None:
        return "-"
    if abs(n) >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.1f} MiB"


def fmt_seconds(s: float | None) -> str:
    """Human-readable duration, '-' for None."""
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    return f"{s * 1e3:.2f} ms"
