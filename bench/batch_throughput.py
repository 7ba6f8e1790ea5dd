"""Batch throughput against a local fake OpenAI-compatible server with fixed latency, through the real SDK.

Builds N interview transcripts (WebVTT, 8 bank questions each, every answer different so nothing is
cached), starts tests/fakeserver.py in another process (so its CPU is not counted) with a fixed latency,
and runs `grader batch` in-process at the given concurrency. Reports the wall time against the ideal
(calls x latency / concurrency), for the whole batch (reading, matching, grading, reports) and for the
grading phase alone (first call to last result: the throughput), the fixed costs around it, and the
grader's CPU per answer.

Usage: python bench/batch_throughput.py [answers=256] [concurrency=32] [latency=0.4]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    ("q07", "Walk me through training a GAN and what goes wrong."),
    ("q05", "VAE versus GAN, how would you compare them?"),
    ("q09", "Why does the KL term matter in a VAE?"),
    ("q14", "Why is attention so important in transformers?"),
    ("q15", "What is BERT, and how is it different from GPT?"),
    ("q24", "Can you explain RLHF and how it's used to train something like ChatGPT?"),
    ("q25", "What are diffusion models and how are they different from GANs or VAEs?"),
    ("q20", "What are the challenges of deploying a large generative model in production?"),
]
ANSWER = (
    "Candidate {n} on {qid}: you alternate updates, sample real data and noise, train the discriminator with binary "
    "cross-entropy and the generator with the non-saturating loss; watch for mode collapse, vanishing gradients "
    "and oscillation, and monitor FID rather than the losses. Variant {n}-{qid}."
)


def write_transcripts(folder: Path, answers: int) -> int:
    """Transcripts of 8 questions each, enough for `answers` answers; returns how many answers they hold."""
    count = 0
    for n in range((answers + len(QUESTIONS) - 1) // len(QUESTIONS)):
        lines = ["WEBVTT", ""]
        t = 0
        for qid, asked in QUESTIONS:
            if count == answers:
                break
            for speaker, text in (("Interviewer", asked), (f"Candidate {n}", ANSWER.format(n=n, qid=qid))):
                lines += [f"00:{t // 60:02d}:{t % 60:02d}.000 --> 00:{(t + 5) // 60:02d}:{(t + 5) % 60:02d}.000"]
                lines += [f"<v {speaker}>{text}</v>", ""]
                t += 6
            count += 1
        (folder / f"interview_{n:03d}.vtt").write_text("\n".join(lines), encoding="utf-8")
    return count


class Clock:
    """A progress sink that timestamps the grading phase (from the moment the plan is whole: `start`)."""

    def __init__(self) -> None:
        self.started = self.finished = self.cpu_started = self.cpu_finished = 0.0
        self.done = 0

    def start(self, total: int, done: int) -> None:
        self.started, self.cpu_started = time.perf_counter(), time.process_time()

    def advance(self, record: dict[str, Any]) -> None:
        self.done += 1
        self.finished, self.cpu_finished = time.perf_counter(), time.process_time()

    def note(self, message: str) -> None:
        print(f"note: {message}")


def main() -> None:
    answers = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    latency = float(sys.argv[3]) if len(sys.argv) > 3 else 0.4
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fakeserver.py"), str(latency)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        from grader.batch import BatchOptions, run_batch
        from grader.config import Settings

        with tempfile.TemporaryDirectory() as tmp:
            inputs = Path(tmp) / "in"
            inputs.mkdir()
            total = write_transcripts(inputs, answers)
            settings = Settings(backend="openai", base_url=url, use_cache=False, bank=REPO, timeout=30)
            options = BatchOptions(out=Path(tmp) / "out", concurrency=concurrency)
            clock = Clock()
            cpu, started = time.process_time(), time.perf_counter()
            outcome = run_batch([inputs], settings, options, progress=clock)
            cpu, ended = time.process_time() - cpu, time.perf_counter()
            wall = ended - started
    finally:
        server.terminate()
    ideal = total * latency / concurrency
    phase = clock.finished - clock.started
    print(f"command: python bench/batch_throughput.py {answers} {concurrency} {latency}")
    transcripts = -(-total // len(QUESTIONS))
    print(f"answers: {total} in {transcripts} transcripts; graded {outcome.graded}, ungraded {outcome.ungraded}")
    print(f"ideal (calls x latency / concurrency): {ideal:.2f} s")
    print(f"grading phase: {phase:.2f} s = {phase / ideal:.2f} x ideal")
    print(f"whole batch (read, match, grade, reports): {wall:.2f} s = {wall / ideal:.2f} x ideal")
    before, after = clock.started - started, ended - clock.finished
    print(
        f"  of which fixed, whatever the batch size: {before:.2f} s before the plan is whole (SDK import, token "
        f"table, reading and matching transcripts; the first calls go out once the first file is read, so part of "
        f"the reading overlaps the grading phase), {after:.2f} s of reports after the last"
    )
    phase_cpu = clock.cpu_finished - clock.cpu_started
    print(
        f"grader CPU per answer: {phase_cpu / total * 1000:.1f} ms while grading, {cpu / total * 1000:.1f} ms with "
        f"start-up and reports ({cpu:.2f} s in all; the server runs in another process)"
    )


if __name__ == "__main__":
    main()
