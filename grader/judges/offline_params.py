"""The offline judge's constants: chosen on SAF `train`, the bank's exemplars and bench/claims (never a test split)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Credit:
    """How key-point support becomes a criterion's fraction of its top level."""

    point_low: float
    """A key point earns nothing at a support of this or less."""
    point_high: float
    """… and full credit from this support up."""
    full: float
    """Mean key-point credit from which the criterion earns its top level."""
    gram_share: float = 0.5
    """Share of letter trigrams (against whole words) in a sentence's support."""


@dataclass(frozen=True)
class OfflineParams:
    """The offline judge's constants, chosen on SAF `train` and on the bank's exemplars (never a test split)."""

    question_weight: float = 0.3
    """Weight of a key-point word that also occurs in the question: repeating the question is not an answer."""
    rarity_floor: float = 0.05
    """A word weighs this plus its rarity (0 … 1): common words still count a little."""
    point_mass: float = 1.0
    """Key points weigh their word mass to this power within a criterion (0: all count equally)."""
    found: float = 0.5
    """Support from which a key point counts as found (strengths, gaps, evidence)."""
    key_points: Credit = Credit(point_low=0.1, point_high=0.6, full=0.6)
    """For hand-written rubrics: crisp key points."""
    sentences: Credit = Credit(point_low=0.0, point_high=1.0, full=0.3, gram_share=0.75)
    """For rubrics built from a reference answer: each key point a sentence bundling several facts."""
    window_share: float = 0.5
    """Rubrics built from a reference answer only: share of a key point's support from its best one- or
    two-sentence window (the rest from the whole answer; see reference_match.py)."""
    candidates: int = 4
    """Sentences examined per key point: those sharing the most weight with it."""
    neighbours: int = 10
    sim_power: float = 4.0
    """Neighbour weight is cosine similarity to this power: the closest graded answers dominate."""
    knn_share: float = 0.65
    """Share of the neighbours' estimate in the target once many graded answers are known."""
    knn_half: float = 5.0
    """Graded answers at which the neighbours' share reaches half its maximum."""
    prior_strength: float = 5.0
    """Pseudo-answers holding the coverage-to-score line at identity until graded answers move it."""
    claim_match: float = 0.66
    """Support (same sense, words only) from which a clause states a wrong claim …"""
    claim_least_weight: float = 0.9
    """A claim whose words weigh less than this in all (common words only) is too vague to look for …"""
    short_claim_match: float = 0.8
    """… (claims of three words or fewer: this much of their weight) …"""
    claim_words: float = 0.6
    """… holding at least this share of its words (a claim's rare subject alone does not state it) …"""
    claim_sentence: float = 0.8
    """… or from which a whole sentence does, words mostly in the claim's order …"""
    claim_sentence_words: float = 0.9
    claim_sentence_order: float = 0.75
    """… and this share of its weight in order;"""
    claim_gram_share: float = 0.2
    """… its words counting more than their letter trigrams (a claim turns on exact words) …"""
    claim_order: float = 0.5
    """… with at least this share of the claim's weight in the claim's own order, and this share of the weight of
    its words no correct text of the rubric uses:"""
    claim_own: float = 0.5
    swap_share: float = 0.15
    """A wrong claim whose own words (those no correct text uses) weigh less than this share of it is made of the
    rubric's words ("BERT is the decoder and GPT the encoder"): it differs from the truth in which words go
    together, so a clause states it only when it also holds …"""
    swap_words: float = 0.8
    """… this share of the claim's words, and its sentence puts …"""
    swap_pairs: float = 0.6
    """… this share of the pairs of them neighbouring in the claim in the claim's order, within three words."""
    correct_margin: float = 0.0
    """A sentence matching a wrong claim's words is not an error when it is this much nearer (word-and-sense
    cosine) to one of the rubric's correct texts than to any wrong claim or phrasing."""
    figure_weight: float = 1.5
    """A sentence with no negation giving a number no text of the rubric gives states a correct text's fact wrongly
    when it shares words of this much weight with it …"""
    figure_words: int = 2
    """… and at least this many words."""
    reversed_match: float = 0.55
    """Reversed support from which a sentence denies a key point (an error) …"""
    denied_share: float = 0.35
    """… when the words it negates or reverses carry at least this share of the key point's weight."""
    error_penalty: float = 0.3
    """Share of the maximum each error takes off the total."""
    error_levels: float = 1.0
    """Share of its criterion's levels an error takes off: a criterion built on a wrong claim earns level 0, as
    the rubrics' own level-0 descriptors say."""
    relevant: float = 0.4
    """Support from which a sentence counts as fully on point (for precision)."""
    precision_full: float = 0.5
    """Share of on-point content from which an answer is not diluted."""
    cache_size: int = 128
