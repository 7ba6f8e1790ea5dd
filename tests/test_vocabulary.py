"""One constant per vocabulary: modules that spell a shared word themselves agree with grader.vocabulary."""

from grader import vocabulary
from grader.judges import offline_flags
from grader.text import screening


def test_screening_flags_are_the_vocabulary_flags():
    assert screening.HIDDEN_CHARACTERS == vocabulary.HIDDEN_CHARACTERS
    assert screening.INJECTION == vocabulary.PROMPT_INJECTION_SUSPECTED


def test_offline_flags_are_known_flags():
    source = open(offline_flags.__file__, encoding="utf-8").read()
    for name in ("NON_ENGLISH_SUSPECTED", "COPIED_FROM_RUBRIC", "KEYWORD_LIST"):
        assert name in source and getattr(vocabulary, name) in vocabulary.FLAGS


def test_flags_are_unique():
    assert len(set(vocabulary.FLAGS)) == len(vocabulary.FLAGS)
