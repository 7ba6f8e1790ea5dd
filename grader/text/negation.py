"""Negation and clauses: which words of a sentence are asserted, and where a clause ends. Pure, no I/O.

A key point is not supported by a sentence that negates it ("attention is not quadratic"), nor by one that reports
it as others' belief ("people assume attention is linear"); a wrong claim is not stated by either.
"""

from __future__ import annotations

import functools
import re

from grader.text.textsim import STOP_WORDS, WORD, fold, stem

NEGATIONS = frozenset(
    "not no never none nobody neither nor without cannot rarely seldom hardly barely scarcely".split()
)
NEGATION_SCOPE = 6
"""Content words after a negation that it is taken to cover, at most, within its clause."""
_CLAUSE = re.compile(r"[,;:.!?()\[\]]")
# Words that open a new clause, so a negation before them does not reach past them ("X is not Y but Z is").
_CLAUSE_WORDS = frozenset("but whereas although though however yet while and because since which".split())
# Phrases that negate what follows, as a plain "not" does: "no longer X", "fails to X", "it's a myth that X". A claim
# the speaker reports as others' ("people assume X", "you often hear that X", "a common mistake is thinking X") is
# not asserted either: correct answers name misconceptions that way, and must not be docked for stating them.
_BELIEVE = r"(?:think|thinks|assume|assumes|believe|believes|say|says|claim|claims|call|calls|treat|treats)"
_NEGATING = re.compile(
    r"\b(?:no longer|fails? to|failed to|lacks?|lacking|skips?|skipped|skipping|dispens(?:e|es|ed|ing) with"
    r"|(?:does|do|did) away with"
    r"|(?:it is |it's |its )?(?:a )?myth (?:that|to think)|false that|untrue that"
    r"|(?:misconception|misunderstanding|mistake|fallacy|misbelief|myth|trap)s? (?:is |are )?"
    r"(?:that|to|thinking|believing)"
    r"|(?:people|many|some|others|folks|candidates|newcomers|a lot of people|lots of people|many people|some people)"
    rf" (?:often |sometimes |still |commonly |wrongly |mistakenly |naively |usually |tend to |keep )*{_BELIEVE}"
    rf"|(?:wrongly|mistakenly|naively|incorrectly) {_BELIEVE}"
    r"|you (?:often |sometimes |still |will |ll |might |may )*hear(?: people say| it said)?"
    rf"|(?:it is|it's|its) tempting to {_BELIEVE}"
    r"|(?:a |the )?(?:common |popular |widespread )?belief (?:is )?that|gets? confused with|(?:is|are) confused with)\b"
)
# … and phrases that negate only the few words after them: "rather than X", "instead of X", "unlike X".
_NEGATING_NEAR = re.compile(
    r"\b(?:rather than|instead of|as opposed to|far from|unlike|(?:different|distinct|separate) from|not the same as)\b"
)
_NEAR = "nearnot"
NEAR_SCOPE = 2
# A verb or a new subject ends such a phrase's reach: in "VAEs rather than GANs are stable", "stable" is not
# negated, nor is "KL" in "instead of the discriminator it uses a KL divergence".
_AUXILIARIES = frozenset(
    "is are was were be been has have had does do did can could will would should may might must "
    "it they we you i he she".split()
)


_CLAUSE_SPLIT = re.compile(
    r"[,;:()\[\]]|\s(?=(?:but|whereas|although|though|however|yet|while|and|because|since|which|so)\s)", re.I
)


_RELATIVE = re.compile(r"^\s*(?:which|who|whose|that)\b", re.I)


def clause_texts(sentence: str) -> list[str]:
    """A sentence cut at commas and clause-opening conjunctions (each part keeps its conjunction).

    A relative clause stays with the noun it describes: in "a KL divergence, which is symmetric", the
    divergence is what is symmetric.
    """
    parts: list[str] = []
    for part in _CLAUSE_SPLIT.split(sentence):
        if not part or not WORD.search(part):
            continue
        if parts and _RELATIVE.match(part):
            parts[-1] += ", " + part.strip()
        else:
            parts.append(part)
    return parts


def raw_words(text: str) -> list[str]:
    """Every word of a text after folding, function words included (for telling prose from lists of terms)."""
    return WORD.findall(fold(text))


# Both kinds in one pass (this runs on every sentence and clause an answer has).
_NEGATING_ANY = re.compile(f"(?P<all>{_NEGATING.pattern})|(?P<near>{_NEGATING_NEAR.pattern})")


def _mark(match: re.Match[str]) -> str:
    return f"{match.group()} {'not' if match.group('all') else _NEAR} "


# "Generation is sequential, training isn't": a clause ending in an auxiliary and "not" denies its predicate, which
# it leaves out, so its own words are negated ("ca" and "wo" are what folding leaves of "can't" and "won't").
_ELLIPTICAL = _AUXILIARIES | frozenset("ca wo need".split())
# … and so does one closing on a verdict: '"generative means unsupervised" is false'.
_VERDICTS = frozenset(
    (verb, verdict) for verb in ("is", "are", "s") for verdict in ("false", "wrong", "untrue", "incorrect", "nonsense")
) | {("a", "myth"), ("not", "true")}


def negated_tokens(text: str) -> list[tuple[str, bool]]:
    """Content tokens as `tokens` gives them, each with whether a negation in its clause covers it.

    A negation covers the words after it, or, closing an elliptical clause ("training isn't"), the words before.
    """
    out: list[tuple[str, bool]] = []
    # The phrase's own words stay (they are content for matching); a marker after it carries the negation.
    folded = _NEGATING_ANY.sub(_mark, fold(text))
    for clause in _CLAUSE.split(folded):
        scope, near = 0, False
        words = WORD.findall(clause)
        elided = len(words)  # where an elliptical denial's own words begin, if it closes this clause
        if len(words) >= 2 and (words[-1] == "not" and words[-2] in _ELLIPTICAL or tuple(words[-2:]) in _VERDICTS):
            elided = max((n + 1 for n, w in enumerate(words) if w in _CLAUSE_WORDS), default=0)
        negated_from = len(out)
        for number, word in enumerate(words):
            if number >= elided:
                if not (word in STOP_WORDS or word in _ELLIPTICAL or (len(word) == 1 and not word.isdigit())):
                    out.append((stem(word), True))
                continue
            if word == "without" and scope > 0 and not near:
                # "shouldn't be used without review", "isn't copyrightable without a human author": a double
                # negative requires what it names, so neither part is denied.
                out[negated_from:] = [(token, False) for token, _ in out[negated_from:]]
                scope = 0
            elif word in NEGATIONS:
                scope, near, negated_from = NEGATION_SCOPE, False, len(out)
            elif word == _NEAR:
                scope, near = NEAR_SCOPE, True
            elif word in _CLAUSE_WORDS or (near and word in _AUXILIARIES):
                scope = 0
            elif not (word in STOP_WORDS or (len(word) == 1 and not word.isdigit())):
                out.append((stem(word), scope > 0))
                scope = max(0, scope - 1)
    return out


# Function words that carry a claim's error ("Scaling means only adding parameters", "overfitting and mode collapse
# are the same thing", "indemnities cover any use"): tokens drop them, so a claim resting on one matches every
# correct sentence on its topic unless the quantifier itself is asked for. Words of one group say the same thing.
_QUANTIFIERS = {
    "only": "only just solely purely merely alone exclusively",
    "same": "same identical equivalent equal equally",
    "every": "any every all always whatever regardless each everybody everyone everything",
    "best": "best optimal ideal superior",
}
_COMPOUND = re.compile(r"(?<=\w)-(?:only|all|same)\b")
""""encoder-only", "catch-all": part of a name, not a quantifier."""
_QUANTIFIER_GROUP = {word: group for group, words in _QUANTIFIERS.items() for word in words.split()}


@functools.lru_cache(maxsize=1 << 14)
def quantifiers(text: str) -> frozenset[str]:
    """The quantifier groups a text asserts: not right after a negation ("not the same", "isn't just")."""
    words = raw_words(_COMPOUND.sub("", text))
    found = set()
    for number, word in enumerate(words):
        group = _QUANTIFIER_GROUP.get(word)
        if group is not None and not any(w in NEGATIONS for w in words[max(0, number - 3) : number]):
            found.add(group)
    return frozenset(found)
