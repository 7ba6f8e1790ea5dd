"""What a sentence states: negation, contrast, opposite words, fragments and claims (pure, tables of cases)."""

from __future__ import annotations

import pytest

from grader.judges.statements import analyse, claim_statement, level_zero_claims, statement, support
from grader.text.negation import negated_tokens, quantifiers


def weight(token: str) -> float:
    return 1.0


def negated(text: str) -> set[str]:
    return {t for t, n in negated_tokens(text) if n}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("The KL term is not symmetric.", {"kl", "term", "symmetric"} - {"kl", "term"}, id="not"),
        pytest.param("The KL term isn't symmetric.", {"symmetric"}, id="contraction"),
        pytest.param("It is a myth that the KL term is symmetric.", {"kl", "term", "symmetric"}, id="myth_that"),
        pytest.param("VAEs no longer need an encoder.", {"long", "need", "encod"}, id="no_longer"),
        pytest.param("A GAN lacks an encoder.", {"encod"}, id="lacks"),
        pytest.param("We train a VAE instead of a GAN.", {"gan"}, id="instead_of_reaches_only_its_phrase"),
        pytest.param("VAEs rather than GANs are stable to train.", {"gan"}, id="rather_than_stops_at_the_verb"),
        pytest.param("The discriminator does not generate samples but the generator does.", {"generat", "sampl"},
                     id="but_opens_a_new_clause"),  # fmt: skip
        pytest.param("Overfitting is different from mode collapse.", {"modecollaps"}, id="different_from"),
        pytest.param("The encoder maps an input to a distribution.", set(), id="plain"),
        pytest.param("Generation is sequential, training isn't.", {"train"}, id="elliptical_denial"),
        pytest.param("Generation is sequential and training is not.", {"train"}, id="elliptical_after_and"),
        pytest.param("GANs can't.", {"gan"}, id="elliptical_cant"),
        pytest.param("Check whether the sample is real or not.", set(), id="or_not_denies_nothing"),
        pytest.param("Nobody has shown that the brain does backprop.", {"shown", "brain", "backprop"}, id="nobody"),
        pytest.param("Clinical notes shouldn't be used without clinician review.", set(), id="not_without_requires"),
        pytest.param("A GAN trains without labels.", {"label"}, id="without_alone_negates"),
        pytest.param("Synthetic ≠ anonymous.", {"anonymous"}, id="not_equal_sign"),
        pytest.param('"Generative means unsupervised" is false.', {"generativ", "mean", "unsuperviz", "fals"},
                     id="verdict_after_the_claim"),  # fmt: skip
        pytest.param("DPO skips the reward model.", {"reward", "model"}, id="skips"),
    ],
)
def test_negation_reaches_what_it_negates(text: str, expected: set[str]) -> None:
    assert negated(text) == expected


def test_negating_phrases_keep_their_own_words_as_content() -> None:
    assert [t for t, _ in negated_tokens("A GAN lacks an encoder")] == ["gan", "lack", "encod"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("encoder, decoder, latent space, KL divergence, ELBO, reparameterisation trick", True,
                     id="comma_list"),  # fmt: skip
        pytest.param("encoder decoder latent space\nKL divergence ELBO prior\nreparameterisation trick sampling", True,
                     id="four_word_lines"),  # fmt: skip
        pytest.param("The encoder maps each input to a distribution over the latent space.", False, id="prose"),
        pytest.param("So um the encoder gives you like a mean and a variance and you sample from it", False,
                     id="raw_speech"),  # fmt: skip
        pytest.param("Un VAE est un autoencodeur dont l'encodeur produit une distribution sur l'espace latent.", False,
                     id="french_prose_is_not_a_list"),  # fmt: skip
        pytest.param("Yes, exactly.", False, id="too_short_to_tell"),
    ],
)
def test_fragments_are_lists_of_terms(text: str, fragment: bool) -> None:
    assert all(s.fragment is fragment for s in analyse(text))


POINT = statement("The reparameterisation trick lets gradients flow through sampling.", weight)


@pytest.mark.parametrize(
    ("sentence", "supported", "denied"),
    [
        pytest.param("With the reparameterization trick, gradients flow through the sampling step.", True, False,
                     id="paraphrase"),  # fmt: skip
        pytest.param("The reparameterisation trick does not let gradients flow through sampling.", False, True,
                     id="negated"),  # fmt: skip
        pytest.param("Gradients can never flow through sampling with the reparameterisation trick.", False, True,
                     id="never"),  # fmt: skip
        pytest.param("We sample from a Gaussian prior.", False, False, id="other_point"),
    ],
)
def test_a_sentence_supports_or_denies_a_point(sentence: str, supported: bool, denied: bool) -> None:
    said = support(POINT, analyse(sentence)[0], 0.5)
    assert (said.score >= 0.5) is supported
    assert (said.reversed >= 0.5) is denied


def test_an_opposite_word_denies_and_a_negated_opposite_does_not() -> None:
    point = statement("The attention cost is quadratic.", weight)
    assert support(point, analyse("The attention cost grows linearly.")[0], 0.0).conflict > 0
    assert support(point, analyse("The attention cost is not linear.")[0], 0.0).conflict == 0


def test_negated_words_of_a_claim_must_be_there() -> None:
    claim = statement("An unconditional GAN cannot be controlled at all.", weight)
    assert not support(claim, analyse("An unconditional GAN models p(x).")[0], 0.0).negations_held
    assert support(claim, analyse("An unconditional GAN can't be controlled.")[0], 0.0).negations_held


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param("The KL term is symmetric; it is KL(q || p).", True, id="claim_before_its_correction"),
        pytest.param("says the noising is learned by the model", False, id="only_common_words"),
        pytest.param("calls BERT a decoder model", False, id="too_vague"),
        pytest.param("Says the discriminator is the network that produces the generated images.", True,
                     id="claim_verb_stripped"),  # fmt: skip
    ],
)
def test_claims_too_vague_to_tell_from_correct_text_are_not_looked_for(text: str, kept: bool) -> None:
    claim = claim_statement(text, rarity_floor=0.05, least_weight=0.9)
    assert (claim is not None) is kept
    if claim is not None:
        assert "correction" not in claim.text and "says" not in claim.words


def test_level_zero_descriptors_quote_their_example_claims() -> None:
    levels = ["Absent, or wrong (e.g. the discriminator generates, or a GAN has an encoder).", "Names both."]
    assert level_zero_claims(levels) == ["the discriminator generates", "a GAN has an encoder"]
    assert level_zero_claims(["Absent or off topic.", "Some."]) == []


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        pytest.param("Scaling means only adding parameters", {"only"}, id="only"),
        pytest.param("It is just overfitting", {"only"}, id="just_is_only"),
        pytest.param("They are the same thing", {"same"}, id="same"),
        pytest.param("They are not the same", set(), id="negated"),
        pytest.param("Indemnities cover any use", {"every"}, id="any"),
        pytest.param("BERT is an encoder-only model", set(), id="compound_is_a_name"),
    ],
)
def test_quantifiers_a_claim_rests_on(text: str, groups: set[str]) -> None:
    assert quantifiers(text) == groups
