"""The offline judge's error detector: each guard with the attack or the honest sentence it is there for."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.bank import Bank
from grader.bank.questions import find_question, load_questions
from grader.bank.rubrics import load_rubric
from grader.judges.figures import numbers
from grader.judges.offline import OfflineJudge
from grader.models import Rubric
from grader.text.negation import negated_tokens


@pytest.fixture
def bank(repo: Path) -> Bank:
    return Bank.open(repo)


def errors(bank: Bank, qid: str, text: str, rubric: Rubric | None = None, veto: bool = True) -> list[str]:
    rubric = rubric or load_rubric(bank, qid).rubric
    question = find_question(load_questions(bank), qid).question
    return [e.claim for e in OfflineJudge().errors(rubric, question, text, veto)]


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        pytest.param("People assume attention is linear.", {"attention", "linear"}, id="people_assume"),
        pytest.param("A common mistake is thinking attention is linear.", {"attention", "linear"}, id="mistake"),
        pytest.param("You often hear that attention is linear.", {"attention", "linear"}, id="you_hear"),
        pytest.param("Contrary to popular belief, attention is quadratic.", set(), id="contrary_asserts"),
        pytest.param("Many people wrongly think attention is linear.", {"attention", "linear"}, id="wrongly_think"),
        pytest.param("Those zeros rarely make anything faster.", {"make", "anyth", "fast"}, id="rarely"),
        pytest.param("Attention is quadratic, people have shown.", set(), id="plain_assertion"),
    ],
)
def test_a_claim_reported_as_others_is_not_asserted(text: str, negated: set[str]) -> None:
    assert {t for t, n in negated_tokens(text) if n} == negated


@pytest.mark.parametrize(
    ("sentence", "stated"),
    [
        pytest.param("The KL term is symmetric, so the direction does not matter.", True, id="asserted"),
        pytest.param("People assume the KL term is symmetric, but the direction matters.", False, id="people_assume"),
        pytest.param("A common mistake is thinking the KL divergence is symmetric.", False, id="a_mistake"),
        pytest.param("You often hear that the KL term is symmetric; it is not.", False, id="you_hear"),
    ],
)
def test_naming_a_misconception_is_not_stating_it(bank: Bank, sentence: str, stated: bool) -> None:
    assert bool(errors(bank, "q05", sentence)) is stated


def test_a_phrasing_catches_the_claim_in_other_words(bank: Bank) -> None:
    """A candidate's words differ from the rubric's: the rubric lists them, and they cost like the claim."""
    rubric = load_rubric(bank, "q05").rubric
    said = "Swapping q and p inside that divergence gives you exactly the same number."
    assert errors(bank, "q05", said) == []
    phrased = rubric.model_copy(
        update={"phrasings": Rubric.model_validate(rubric.model_dump() | {"phrasings": [
            {"claim": "The KL term is symmetric, or is KL(p(z) || q(z|x))",
             "said": ["Swapping q and p inside the divergence gives the same number."]}]}).phrasings}
    )  # fmt: skip
    found = errors(bank, "q05", said, phrased)
    assert found == ["The KL term is symmetric, or is KL(p(z) || q(z|x))"]  # reported in the rubric's words


def test_phrasings_must_name_one_of_the_rubric_s_claims(bank: Bank) -> None:
    data = load_rubric(bank, "q05").rubric.model_dump()
    data["phrasings"] = [{"claim": "Attention is linear", "said": ["It grows linearly."]}]
    with pytest.raises(ValidationError, match=r"\[0\]\.claim matches none"):
        Rubric.model_validate(data)
    data["phrasings"] = [{"claim": "The KL term is symmetric, or is KL(p(z) || q(z|x))", "said": ["  "]}]
    with pytest.raises(ValidationError, match="must not be blank"):
        Rubric.model_validate(data)


def test_words_of_a_claim_in_the_relation_the_rubric_holds_true_are_not_an_error(bank: Bank) -> None:
    """The words of "cross-attention uses the encoder states as queries", the relation of the rubric's key point."""
    right = (
        "The decoder has causal self-attention plus cross-attention whose queries are decoder states and whose keys "
        "and values are encoder outputs."
    )
    assert errors(bank, "q17", right, veto=False)  # the words alone match the claim …
    assert errors(bank, "q17", right) == []  # … but the sentence is nearer the rubric's correct texts


def test_a_claim_made_of_the_rubric_s_words_in_their_true_relation_is_not_an_error(bank: Bank) -> None:
    """"QLoRA quantises the adapters to 4 bits" has no word of its own: the word pairs show the relation."""
    right = "QLoRA puts the frozen base in 4-bit NF4 and trains the adapters in higher precision, so it fits one GPU."
    assert errors(bank, "q21", right) == []


def test_a_claim_rebutted_after_but_is_not_stated(bank: Bank) -> None:
    rebutted = (
        "Unstructured sparsity with SparseGPT or Wanda can remove about half the weights in one shot with little "
        "damage, but on a GPU those zeros rarely make anything faster."
    )
    assert errors(bank, "q19", rebutted) == []


def test_a_terse_sentence_can_state_a_claim(bank: Bank) -> None:
    """No function word, so not prose by the fragment rule, yet a full sentence: it is checked."""
    assert errors(bank, "q30", "Training longer always helps large models.")
    assert errors(bank, "q30", "training, longer, models, helps, large, always, epochs, data") == []


@pytest.mark.parametrize(
    ("sentence", "wrong"),
    [
        pytest.param("The DCGAN recipe uses Adam with a learning rate of 0.1 and beta1 of 0.99.", True, id="wrong"),
        pytest.param("The DCGAN recipe uses Adam with a learning rate of 0.0002 and beta1 of 0.5.", False, id="right"),
        pytest.param("DCGAN does not use a learning rate of 0.1 or a beta1 of 0.99.", False, id="denied"),
        pytest.param("I trained 3 models over 40 epochs.", False, id="unrelated_figures"),
    ],
)
def test_a_figure_no_text_of_the_rubric_gives_is_an_error(bank: Bank, sentence: str, wrong: bool) -> None:
    assert bool(errors(bank, "q07", sentence)) is wrong


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("D = 1/2 at the optimum", {0.5}),
        ("d_model of 12,288", {12288.0}),
        ("about 50% of the weights", {50.0}),
        ("GPT-4 in 4-bit", {4.0}),
        ("version 3.5.1", set()),
        ("a learning rate of 2e-4", {0.0002}),
        ("above 10^25 FLOP", {1e25}),
        ("60k participants, 60 thousand people", {60000.0}),
        ("2.3M chats or 2.3 million", {2.3e6}),
        ("the 70B model and the 70-billion-parameter one", {7e10}),
        ("1e999 or 99999^63", {math.inf}),  # hostile: out of float range, not a crash
        ("2^" + "9" * 5000, {math.inf}),  # hostile: past Python's limit for converting digits to an int
        ("since 2025.", {2025.0}),
        ("no numbers here", set()),
    ],
)
def test_numbers_are_read_by_value(text: str, values: set[float]) -> None:
    assert numbers(text) == values


def test_a_figure_in_other_notation_is_the_same_figure(bank: Bank) -> None:
    said = "Against a perfect discriminator the generator reduces the Jensen-Shannon divergence, with D answering 0.5."
    assert errors(bank, "q02", said) == []  # the rubric writes D = 1/2
    assert errors(bank, "q07", "The DCGAN recipe uses Adam with a learning rate of 2e-4 and beta1 of 0.5.") == []


@pytest.mark.parametrize(
    ("qid", "sentence", "wrong"),
    [
        # The rubric gives 55.8%: people say "about 56" or "55", and neither is an error; "5%" is.
        pytest.param("q03", "In a 2023 controlled experiment Copilot users finished a task about 56% faster.", False,
                     id="rounded"),  # fmt: skip
        pytest.param("q03", "In a 2023 controlled experiment Copilot users finished a task 55% faster.", False,
                     id="cut_off"),  # fmt: skip
        pytest.param("q03", "In a 2023 controlled experiment Copilot users finished a task about 5% faster.", True,
                     id="wrong"),  # fmt: skip
        # Whole numbers are not rounded: a year off by one is another year.
        pytest.param("q24", "ChatGPT, released in November 2021, was fine-tuned from a GPT-3.5 model with RLHF.", True,
                     id="year_off_by_one"),  # fmt: skip
    ],
)
def test_a_figure_is_the_rubric_s_as_people_round_it(bank: Bank, qid: str, sentence: str, wrong: bool) -> None:
    assert bool(errors(bank, qid, sentence)) is wrong


@pytest.mark.parametrize(
    ("qid", "sentence"),
    [
        # Experts give more figures than a rubric does; one in no figure's place is theirs, not a changed fact.
        pytest.param("q21", "QLoRA keeps the frozen base in 4-bit NF4 and trains adapters in BF16, so a 65B model fits "
                     "on one 48 GB GPU.", id="model_and_gpu_size"),  # fmt: skip
        pytest.param("q13", "The loss falls predictably with parameters, data and compute, Kaplan in 2020, then "
                     "Chinchilla said roughly 20 tokens per parameter.", id="a_figure_of_another_fact"),  # fmt: skip
        pytest.param("q39", "The 70-billion-parameter Chinchilla beat the 280-billion-parameter Gopher.",
                     id="written_out_scale"),  # fmt: skip
    ],
)
def test_a_figure_in_no_place_of_the_rubric_s_is_not_an_error(bank: Bank, qid: str, sentence: str) -> None:
    assert errors(bank, qid, sentence) == []


def test_a_figure_in_the_place_of_the_rubric_s_is_an_error(bank: Bank) -> None:
    assert errors(bank, "q39", "Chinchilla's compute-optimal ratio is about 200 tokens per parameter.")


def test_a_key_point_that_negates_is_not_denied_by_other_negations(bank: Bank) -> None:
    """"Perplexity alone does not show that quality was kept": "never trust perplexity alone" agrees with it."""
    assert errors(bank, "q19", "So I'd never trust perplexity alone.") == []


def test_figures_of_a_first_person_story_in_the_rubric_are_not_facts(bank: Bank) -> None:
    """q44's reference answer tells its writer's own project ("from about 60 to 85 percent"): a candidate's own
    project has its own numbers, and they contradict nothing."""
    own = (
        "Reading fifty cases together, we saw the metric ignored missing caveats, and our judge agreement with the "
        "lawyers went from about 70 to 88 percent."
    )
    assert errors(bank, "q44", own) == []


def test_an_elliptical_denial_does_not_state_the_claim_it_denies(bank: Bank) -> None:
    assert errors(bank, "q26", "Even though generation is sequential, training isn't.") == []
    assert errors(bank, "q26", "Training also runs token by token, sequentially, just like generation.")


@pytest.mark.parametrize(
    ("qid", "sentence", "stated"),
    [
        pytest.param("q11", "The WGAN critic outputs a probability of being real.", True, id="asserted"),
        pytest.param("q11", "The WGAN critic outputs an unbounded score, not a probability.", False, id="denied_after"),
        pytest.param("q07", "The discriminator should reach 100% accuracy.", True, id="asserted_too"),
        pytest.param(
            "q07", "If the discriminator reaches 100% accuracy, the generator gets vanishing gradients.", False,
            id="supposed",
        ),
    ],
)
def test_a_claim_denied_in_its_sentence_or_only_supposed_is_not_stated(
    bank: Bank, qid: str, sentence: str, stated: bool
) -> None:
    assert bool(errors(bank, qid, sentence)) is stated


def test_nearness_counts_words_with_their_sense() -> None:
    from grader.judges.contrast import Contrast

    def senses(text: str) -> frozenset[tuple[str, bool]]:
        return frozenset(negated_tokens(text))

    contrast = Contrast(
        [senses("attention cost grows linearly with length")],
        [senses("attention cost grows quadratically with length"), senses("attention is not linear")],
        lambda word: 1.0,
    )
    said = senses("the attention cost grows linearly with the length")
    assert contrast.wrong(said) == pytest.approx(1.0)
    assert contrast.correct(said) < contrast.wrong(said)  # "not linear" says the opposite: not near at all
    assert contrast.wrong(senses("attention cost does not grow linearly")) == 0.0
    assert contrast.correct(senses("nothing in common")) == 0.0


@pytest.mark.parametrize(
    ("qid", "honest", "wrong"),
    [
        # The claim rests on a function word that word matching drops: the honest sentence lacks it.
        pytest.param("q39", "Chinchilla showed you should grow data along with model size, about 20 tokens per "
                     "parameter.", "Scaling laws are only about the parameter count.", id="only"),  # fmt: skip
        pytest.param("q30", "People mix it up with mode collapse, but they're different: mode collapse is failing "
                     "to cover the distribution.", "Overfitting and mode collapse are the same thing.",
                     id="same"),  # fmt: skip
        pytest.param("q46", "Vendor indemnities help, but read the conditions.", "Vendor indemnities cover any use.",
                     id="any"),  # fmt: skip
        pytest.param("q12", "The original WGAN enforced the Lipschitz constraint by clipping the critic's weights.",
                     "Weight clipping is the best way to enforce the Lipschitz constraint.", id="best"),  # fmt: skip
        # Notes-style denials.
        pytest.param("q29", "Synthetic ≠ automatically anonymous or GDPR-free.",
                     "Synthetic data is automatically anonymous and GDPR-free.", id="not_equal_sign"),  # fmt: skip
        pytest.param("q04", '"Generative models are always unsupervised" is false.',
                     "Generative models are always unsupervised.", id="verdict"),  # fmt: skip
    ],
)
def test_a_claim_is_docked_and_its_honest_neighbour_is_not(bank: Bank, qid: str, honest: str, wrong: str) -> None:
    assert errors(bank, qid, honest) == []
    assert errors(bank, qid, wrong)


def test_a_key_point_said_with_another_negation_is_not_denied(bank: Bank) -> None:
    """"DPO skips the explicit reward model": "without an explicit reward model" says the same."""
    assert errors(bank, "q23", "DPO does something similar without an explicit reward model or RL loop.") == []


@pytest.mark.parametrize(
    ("qid", "honest", "wrong"),
    [
        # Claims made of the rubric's own words: which words go together tells the error from the truth.
        pytest.param("q15", "BERT is encoder-only and GPT is decoder-only.",
                     "BERT is the decoder-only generator and GPT is the encoder.", id="models_swapped"),  # fmt: skip
        pytest.param("q15", "BERT is encoder-only and GPT is decoder-only.",
                     "BERT is decoder-only and GPT is encoder-only.", id="same_words_swapped"),  # fmt: skip
        pytest.param("q14", "In cross-attention the keys and values come from the encoder, the decoder supplies the "
                     "queries.", "In cross-attention the queries come from the encoder and the keys and values from "
                     "the decoder.", id="roles_in_reverse_order"),  # fmt: skip
    ],
)
def test_a_swap_claim_needs_its_pairs_not_just_its_words(bank: Bank, qid: str, honest: str, wrong: str) -> None:
    assert errors(bank, qid, honest) == []
    assert errors(bank, qid, wrong)


def test_figures_out_of_float_range_are_read_not_crashed_on(bank: Bank) -> None:
    """Hostile figures ("1e999", "99999^63") overflow a float: the answer is still graded."""
    hostile = "DCGAN uses Adam with a learning rate of 1e999 and beta1 of 99999^63; 10^-999 too."
    assert errors(bank, "q07", hostile)  # a figure in the learning rate's place that no rubric text gives
