"""report.html rendered in headless Chromium: what a person opening it would see.

The report forbids scripts (its Content-Security-Policy), so the test renders a copy without that one meta
tag plus a probe script, which reads what the page shows (visible text, layout, score bar widths, network
use) into the dumped DOM. Without the policy, it also shows that the escaping alone keeps the hostile
answer inert: its script never runs and its image never loads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grader.batch.reports import result_record, write_reports
from grader.models import CriterionResult, Feedback, Grade, Provenance, Usage
from grader.transcripts.interview import Plan, SourcePlan, WorkItem

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = '<script>document.title="pwned"</script><img src="x" onerror="document.title=\'pwned\'">'
PROBE = """
<script>
(() => {
  const box = (el) => el.getBoundingClientRect();
  const answer = document.querySelector("article.answer[data-question='q05']");
  const bar = answer.querySelector(".bar");
  const fill = bar.querySelector("span");
  const review = document.getElementById("needs-review");
  const firstCandidate = document.querySelector("section.candidate");
  const out = {
    title: document.title,
    text: document.body.innerText,
    firstSection: document.querySelector("main > section").id,
    reviewTop: box(review).top,
    candidateTop: box(firstCandidate).top,
    viewport: window.innerHeight,
    barShare: box(fill).width / box(bar).width,
    images: document.images.length,
    scripts: document.scripts.length,
    resources: performance.getEntriesByType("resource").length,
    reviewRows: review.querySelectorAll("tr.review-item").length,
    flagColor: getComputedStyle(answer.querySelector(".flag.review")).color,
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium_dom(page: Path, tmp_path: Path) -> str:
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio", "--window-size=1280,900",
               "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]  # fmt: skip
    for attempt in range(2):  # a loaded machine can stall Chromium's start-up once; a second start is clean
        profile = tmp_path / f"chromium-profile-{attempt}"
        try:
            result = subprocess.run([*command, f"--user-data-dir={profile}"], capture_output=True, text=True,
                                    timeout=120)  # fmt: skip
        except subprocess.TimeoutExpired:
            continue
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout
    pytest.fail("Chromium did not render the report within 2 x 120 s")


def grade(question_id: str, score: float | None, flags: list[str], text: str = "", error: str | None = None) -> Grade:
    return Grade(
        question_id=question_id,
        status="graded" if score is not None else "ungraded",
        score=score,
        max_score=10,
        criteria=[
            CriterionResult(
                id="core_idea",
                level=3,
                levels=4,
                score=7.5,
                max_score=7.5,
                rationale="Correct." + text,
                evidence=["an encoder and a decoder"],
            ),
            CriterionResult(
                id="trade_offs",
                level=0,
                levels=3,
                score=0.0,
                max_score=2.5,
                rationale="Missing.",
                evidence=[],
                spread=1.0,
            ),
        ]
        if score is not None
        else [],  # fmt: skip
        feedback=Feedback(strengths=["Names both networks." + text], gaps=["No trade-offs."], next_step="Study ELBO."),
        flags=flags,
        error=error,
        backend="openai",
        model="gpt-4.1-mini",
        usage=Usage(prompt_tokens=900, completion_tokens=250, cost_usd=0.0008),
        provenance=Provenance(grader_version="0.1.0", judge="openai", graded_at="2026-01-01T00:00:00"),
    )


@pytest.fixture
def report(tmp_path: Path) -> Path:
    def row(qid: str, g: Grade, answer: str, candidate: str = "Priya Raman") -> dict[str, Any]:
        item = WorkItem(f"zoom.vtt#{qid}", "zoom.vtt", candidate, qid, answer, 10, f"asked {qid}?", 0.7)
        return result_record(item, g, answer, 0.24)

    records = [
        row("q05", grade("q05", 7.5, ["prompt_injection_suspected"], HOSTILE), "A VAE has an encoder. " + HOSTILE),
        row("q07", grade("q07", None, [], error="timeout: no reply within 60 s"), "You alternate updates."),
        row("q09", grade("q09", 9.0, []), "The KL term keeps the posterior near the prior."),
    ]
    plan = Plan(items=[], sources=[
        SourcePlan("zoom.vtt", "Priya Raman", ["Dana"], [{"asked": "How would you design a feature store?"}], 3)
    ])  # fmt: skip
    questions = {"q05": "How does a VAE differ from a GAN?", "q07": "Explain training a GAN.", "q09": "KL in VAEs?"}
    out = tmp_path / "out"
    out.mkdir()
    write_reports(out, records, plan, questions, {"backend": "openai", "model": "gpt-4.1-mini"})
    return out / "report.html"


# CI sets GRADER_REQUIRE_BROWSER (.ci/run): there a missing browser fails the test instead of skipping it.
@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("GRADER_REQUIRE_BROWSER"),
    reason="needs Debian's chromium at /usr/bin/chromium",
)
def test_report_as_a_person_sees_it(report: Path, tmp_path: Path) -> None:
    assert CHROMIUM.exists(), "GRADER_REQUIRE_BROWSER is set but /usr/bin/chromium is missing (apt install chromium)"
    html = report.read_text(encoding="utf-8")
    csp = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')
    assert csp.search(html) and "script-src" not in html  # as written, the page may run no script at all
    probed = tmp_path / "probed.html"
    probed.write_text(csp.sub("", html).replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium_dom(probed, tmp_path)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    seen = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))

    assert seen["title"] == "Interview grading report"  # the answer's script never ran
    assert seen["images"] == 0 and seen["scripts"] == 1 and seen["resources"] == 0  # only the probe; no network
    # The page opens with the answers that need a person, above the fold, before any candidate.
    assert seen["firstSection"] == "needs-review" and seen["reviewTop"] < seen["viewport"]
    assert seen["reviewTop"] < seen["candidateTop"] and seen["reviewRows"] == 2
    text = seen["text"]
    for expected in (
        "Needs human review (2)",
        "prompt_injection_suspected",
        "ungraded: timeout",
        "Priya Raman",
        "q05: How does a VAE differ from a GAN?",
        "7.5 / 10 (75.0%)",
        "9 / 10 (90.0%)",
        "Ungraded: timeout: no reply within 60 s",
        "How would you design a feature store?",
        "core_idea",
        "an encoder and a decoder",
        "Names both networks.",
        "Study ELBO.",
        "Spread",
    ):
        assert expected in text, expected  # fmt: skip
    assert '<script>document.title="pwned"</script>' in text  # the hostile answer shows as text
    assert abs(seen["barShare"] - 0.75) < 0.02  # the score bar is drawn to scale
    assert seen["flagColor"] != "rgb(29, 35, 48)"  # review flags stand out from ordinary text
