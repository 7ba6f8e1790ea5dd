"""The grader's own CPU cost per grade, model latency excluded, and the prompt tokens of a q05 grade.

The fake OpenAI-compatible server runs in another process, so its CPU is not counted; grades go through the
real SDK with the cache off. Usage: python bench/grade_cpu.py [grades]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    grades = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fakeserver.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        from grader.config import Settings
        from grader.grading.service import GradingService

        answer = (REPO / "examples" / "q05_answer.txt").read_text(encoding="utf-8")
        service = GradingService(Settings(backend="openai", base_url=url, use_cache=False, bank=REPO))

        async def run() -> tuple[float, float]:
            await service.agrade_answer("q05", answer)  # warm-up: imports, tokenizer, connection
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(grades):
                await service.agrade_answer("q05", answer)
            return time.process_time() - cpu, time.perf_counter() - wall

        cpu, wall = asyncio.run(run())
        prepared = service.prepare(answer)
        task = service.task("q05", prepared)
        messages = service.judge.render(task)  # type: ignore[attr-defined]
        tokens = sum(service.counter.count(m.content) for m in messages)
    finally:
        server.terminate()
    print(f"command: python bench/grade_cpu.py {grades}")
    print(f"grader CPU per grade: {cpu / grades * 1000:.2f} ms (wall {wall / grades * 1000:.2f} ms, one at a time)")
    print(f"q05 prompt: {tokens} tokens of message text ({service.counter.method}), before the JSON schema")


if __name__ == "__main__":
    main()
