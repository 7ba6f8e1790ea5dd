"""`grader batch` against the floor: a bare AsyncOpenAI client sending the very same request bodies.

Starts tests/fakeserver.py (in a process of its own, which logs every request body) with a fixed latency,
writes transcripts of N answers (all different, so nothing is cached), and times, as whole processes:

- `grader batch <transcripts> --base-url <server> --concurrency C --no-cache --no-progress`, then
- the floor: a fresh Python that imports openai and sends the bodies the batch sent, from a JSON file, with
  `AsyncOpenAI(max_retries=0)` and an asyncio.Semaphore(C): `chat.completions.create(**body)` each, nothing else.

Each round runs both (in alternating order); it prints every round and the medians, and the ratio of the
medians. The ideal is N x latency / C.

Usage: python bench/vs_floor.py [answers=200] [latency=0.2] [concurrency=32] [rounds=3]
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

FLOOR = """
import asyncio, json, sys
import openai

async def main(url, bodies, concurrency):
    client = openai.AsyncOpenAI(api_key="not-needed", base_url=url, max_retries=0, timeout=30)
    gate = asyncio.Semaphore(concurrency)

    async def send(body):
        async with gate:
            return await client.chat.completions.create(**body)

    replies = await asyncio.gather(*(send(body) for body in bodies))
    await client.close()
    assert all(r.choices[0].message.content for r in replies)

with open(sys.argv[2], encoding="utf-8") as f:
    asyncio.run(main(sys.argv[1], json.load(f), int(sys.argv[3])))
"""

SERVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from fakeserver import FakeOpenAIServer

server = FakeOpenAIServer(latency=float(sys.argv[2])).start()
print(server.url, flush=True)
for line in sys.stdin:  # "dump PATH": write the bodies logged since the last dump, then "ok"
    with server._lock:
        bodies, server.requests[:] = list(server.requests), []
    with open(line.split(" ", 1)[1].strip(), "w", encoding="utf-8") as f:
        json.dump(bodies, f)
    print("ok", flush=True)
server.stop()
"""


def compile_grader() -> None:
    """Byte-compile the grader, as `pip install` does: a timed run must not compile its modules from source.

    An editable install writes __pycache__ on first import, unless PYTHONDONTWRITEBYTECODE is set (as on some
    CI and sandbox machines); then every run would compile every module again (~0.1 s for a batch), which
    the SDK in site-packages, compiled at install, never pays. Existing .pyc files are read even then.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "grader")], check=True)


def grader_command() -> list[str]:
    script = Path(sys.executable).with_name("grader")
    return [str(script)] if script.exists() else [sys.executable, "-m", "grader"]


CPU: dict[str, list[float]] = {"grader": [], "floor": []}


def timed(args: list[str], env: dict[str, str], kind: str) -> float:
    """Wall time of a whole process; its CPU time (user + system) goes to CPU[kind]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[kind].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:3])}… failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall


def main() -> None:
    from batch_throughput import write_transcripts

    answers = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    compile_grader()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(REPO / "tests"), str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    url = server.stdout.readline().strip()
    grader_walls: list[float] = []
    floor_walls: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inputs, bodies = Path(tmp) / "in", Path(tmp) / "bodies.json"
            inputs.mkdir()
            total = write_transcripts(inputs, answers)
            env["HOME"] = tmp  # no cache of anyone's, and --no-cache anyway
            batch = [*grader_command(), "batch", str(inputs), "--out", str(Path(tmp) / "out"), "--base-url", url,
                     "--concurrency", str(concurrency), "--no-cache", "--no-progress"]  # fmt: skip
            floor = [sys.executable, "-c", FLOOR, url, str(bodies), str(concurrency)]

            def dump(path: Path) -> None:
                server.stdin.write(f"dump {path}\n")  # type: ignore[union-attr]
                server.stdin.flush()  # type: ignore[union-attr]
                server.stdout.readline()  # type: ignore[union-attr]

            def run_grader() -> None:
                shutil.rmtree(Path(tmp) / "out", ignore_errors=True)
                dump(Path(tmp) / "floor.json")  # the floor's own requests, dropped
                grader_walls.append(timed(batch, env, "grader"))
                dump(bodies)
                sent = len(json.loads(bodies.read_text("utf-8")))
                if sent != total:
                    sys.exit(f"the batch sent {sent} requests for {total} answers")

            run_grader()  # the first round's bodies are the floor's
            floor_walls.append(timed(floor, env, "floor"))
            for n in range(1, rounds):
                if n % 2:
                    floor_walls.append(timed(floor, env, "floor"))
                    run_grader()
                else:
                    run_grader()
                    floor_walls.append(timed(floor, env, "floor"))
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    ideal = total * latency / concurrency
    print(f"command: python bench/vs_floor.py {answers} {latency} {concurrency} {rounds}")
    print(f"answers: {total}; ideal (answers x latency / concurrency): {ideal:.2f} s")
    print("grader batch (s): " + ", ".join(f"{w:.2f}" for w in grader_walls))
    print("floor (s):        " + ", ".join(f"{w:.2f}" for w in floor_walls))
    g, f = statistics.median(grader_walls), statistics.median(floor_walls)
    gc, fc = statistics.median(CPU["grader"]), statistics.median(CPU["floor"])
    print(f"CPU (median): grader {gc:.2f} s, floor {fc:.2f} s: {(gc - fc) / total * 1000:.1f} ms more per answer")
    print(f"median: grader {g:.2f} s, floor {f:.2f} s: grader = {g / f:.2f} x floor ({g / ideal:.2f} x ideal)")


if __name__ == "__main__":
    main()
