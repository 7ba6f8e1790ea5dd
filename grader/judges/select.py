"""Which judge grades: the one registration point of the judge backends."""

from __future__ import annotations

from pathlib import Path

from grader.bank.prompts import PromptRenderer
from grader.clients.base import ClientOptions, LLMClient
from grader.clients.select import make_client
from grader.config import Settings
from grader.judges.base import GradingTask, Judge, Judgement, JudgeProfile
from grader.pricing import Price


def client_options(settings: Settings) -> ClientOptions:
    """The plain values a client needs from the settings."""
    return ClientOptions(
        provider=settings.resolved_backend,
        base_url=settings.base_url,
        api_key=str(settings.api_key) if settings.api_key else None,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        record_dir=settings.record_dir,
        record=settings.record,
    )


def judge_profile(settings: Settings) -> JudgeProfile:
    """The profile of the judge these settings make, without making it (no client, no connection): for dry runs."""
    if settings.resolved_backend == "offline":
        from grader.judges.offline import OfflineJudge

        return OfflineJudge().profile
    from grader.judges.llm import LLMJudge

    return LLMJudge.describe(settings.model, settings.base_url, settings.effective_temperature, settings.seed,
                             settings.samples, settings.resolved_backend)  # fmt: skip


class StandInJudge:
    """Describes itself as the judge some settings make, without making it (no client); never asked."""

    def __init__(self, profile: JudgeProfile) -> None:
        """Stand in for the judge of this profile."""
        self.name = profile.name
        self.profile = profile

    async def judge(self, task: GradingTask) -> Judgement:
        """A dry run must not judge."""
        raise AssertionError("a dry run must not call the judge")


def make_judge(
    settings: Settings, prompts_dir: Path, client: LLMClient | None = None, price: Price | None = None
) -> Judge:
    """The judge for these settings: the offline judge, or the LLM judge over a client."""
    if settings.resolved_backend == "offline" and client is None:
        from grader.judges.offline import OfflineJudge

        return OfflineJudge()
    from grader.judges.llm import LLMJudge

    return LLMJudge(
        client or make_client(client_options(settings)),
        PromptRenderer(prompts_dir),
        model=settings.model,
        reask_limit=settings.reask_limit,
        samples=settings.samples,
        temperature=settings.effective_temperature,
        seed=settings.seed,
        store=settings.store,
        audience=settings.audience,
        shuffle_criteria=settings.shuffle_criteria,
        price=price,
        logprobs=settings.logprobs,
        base_url=settings.base_url,
    )
