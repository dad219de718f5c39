"""HTTP load against a loopback server: wrk when installed, else a Python generator.

Both send keep-alive GETs from a fixed list of (Host, path) pairs, each optionally with headers of its
own (e.g. ``Authorization``), spread round-robin, for a fixed duration, and report requests,
non-2xx answers, errors and latency percentiles.

The Python generator (asyncio + raw sockets, uvloop when present, in ``processes`` processes)
shares the machine's cores with the server: it is the fallback, and its figures are lower bounds
when the generator's CPU share is high (the benchmark prints it).

Standalone (used by the benchmark as a subprocess):
    .venv/bin/python -P infra/bench/loadgen.py --port 8000 --targets targets.json \
        --duration 10 --connections 16 --processes 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

# (host header, path) or (host header, path, {header: value}); JSON lists of 2 or 3 items on disk
Target = tuple[str, str] | tuple[str, str, dict[str, str]]


def target_headers(target: Target) -> dict[str, str]:
    """Every header of one target's request, Host first."""
    extra = target[2] if len(target) > 2 else {}  # type: ignore[misc]
    return {"Host": target[0], **extra}


@dataclass(slots=True)
class LoadResult:
    generator: str
    seconds: float
    requests: int
    non_2xx: int
    errors: int
    p50_ms: float
    p99_ms: float
    generator_cpu_pct: float  # CPU the generator used, in % of one core

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, float | int | str]:
        return asdict(self) | {"rps": round(self.rps, 1)}


def pick_generator(preference: str = "auto") -> str:
    if preference == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install -y wrk), or use --loadgen python")
    if preference in ("wrk", "python"):
        return preference
    return "wrk" if shutil.which("wrk") else "python"


def run_load(
    generator: str,
    port: int,
    targets: list[Target],
    *,
    duration: float,
    connections: int,
    processes: int = 2,
) -> LoadResult:
    if generator == "wrk":
        return _run_wrk(port, targets, duration=duration, connections=connections)
    return _run_python(port, targets, duration=duration, connections=connections, processes=processes)


# ---- wrk -----------------------------------------------------------------------------------------

_LUA = """
local targets = {%s}
local n = 0
request = function()
  n = n + 1
  local t = targets[(n %% #targets) + 1]
  return wrk.format("GET", t[1], t[2])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%%d,"duration_us":%%d,"status":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run_wrk(port: int, targets: list[Target], *, duration: float, connections: int) -> LoadResult:
    def entry(target: Target) -> str:
        headers = ",".join(f"[{_lua_string(k)}]={_lua_string(v)}" for k, v in target_headers(target).items())
        return f"{{{_lua_string(target[1])},{{{headers}}}}}"

    entries = ",".join(entry(t) for t in targets)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA % entries)
        script = f.name
    try:
        # One wrk thread: on 2 cores the server and PostgreSQL need the rest.
        cmd = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "5s",
            "-s",
            script,
            f"http://127.0.0.1:{port}/",
        ]
        before = psutil.Process().cpu_times()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True)
        after = psutil.Process().cpu_times()
    finally:
        os.unlink(script)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(line.removeprefix("BENCHJSON "))
    seconds = data["duration_us"] / 1e6
    cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return LoadResult(
        generator="wrk",
        seconds=seconds,
        requests=data["requests"],
        non_2xx=data["status"],
        errors=data["errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        generator_cpu_pct=100 * cpu / seconds if seconds else 0.0,
    )


# ---- the Python fallback -------------------------------------------------------------------------


async def _connection(
    port: int, requests: list[bytes], offset: int, stride: int, deadline: float, out: dict
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    latencies = out["latencies"]
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            writer.write(requests[i % len(requests)])
            i += stride
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                        break
                else:
                    raise ValueError("response without content-length")
                await reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                out["errors"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - now)
            if not 200 <= status < 300:
                out["non_2xx"] += 1
    finally:
        writer.close()


def _process_main(
    port: int, requests: list[bytes], first: int, conns: int, stride: int, duration: float, queue: mp.Queue
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> dict:
        out = {"latencies": [], "errors": 0, "non_2xx": 0}
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(
            *(_connection(port, requests, first + k, stride, deadline, out) for k in range(conns))
        )
        out["seconds"] = time.perf_counter() - started
        out["cpu"] = time.process_time()
        return out

    queue.put(asyncio.run(main()))


def _run_python(
    port: int, targets: list[Target], *, duration: float, connections: int, processes: int
) -> LoadResult:
    requests = [
        (
            f"GET {t[1]} HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in target_headers(t).items())
            + "\r\n"
        ).encode("latin-1")
        for t in targets
    ]
    processes = max(1, min(processes, connections))
    per_proc = [
        connections // processes + (1 if k < connections % processes else 0) for k in range(processes)
    ]
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()
    procs = []
    first = 0
    for conns in per_proc:
        procs.append(
            ctx.Process(
                target=_process_main, args=(port, requests, first, conns, connections, duration, queue)
            )
        )
        first += conns
    for p in procs:
        p.start()
    outs = [queue.get(timeout=duration + 60) for _ in procs]
    cpu = sum(o["cpu"] for o in outs)
    for p in procs:
        p.join(timeout=10)
    latencies = sorted(x for o in outs for x in o["latencies"])
    seconds = max(o["seconds"] for o in outs)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    return LoadResult(
        generator=f"python ({processes} processes)",
        seconds=seconds,
        requests=len(latencies),
        non_2xx=sum(o["non_2xx"] for o in outs),
        errors=sum(o["errors"] for o in outs),
        p50_ms=pct(0.50),
        p99_ms=pct(0.99),
        generator_cpu_pct=100 * cpu / seconds if seconds else 0.0,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--targets",
        type=Path,
        required=True,
        help='JSON list of ["host", "/path"] or ["host", "/path", {headers}]',
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    targets = [tuple(t) for t in json.loads(args.targets.read_text())]
    result = run_load(
        pick_generator(args.generator),
        args.port,
        targets,  # type: ignore[arg-type]
        duration=args.duration,
        connections=args.connections,
        processes=args.processes,
    )
    json.dump(result.as_json(), sys.stdout)
    print()


if __name__ == "__main__":
    main()
