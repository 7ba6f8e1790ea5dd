"""Matching a question as an interviewer asked it to the bank question it means, with no model call.

Each bank question becomes a weighted bag of words: its own text at full weight, its rubric's tags and
criterion descriptions at lower weights, its section headings lower still. Both sides go through
`textsim` (case and abbreviation folding, light stemming) and a small lexicon of how interviewers rephrase
("what goes wrong" is a challenge, "versus" a difference, "in prod" deployment), and lose the words every
question has ("explain", "walk me through"). The score blends the cosine of TF-IDF vectors with a letter-
trigram cosine (spelling and word forms). Below the threshold a question is unmatched: it is reported,
never forced onto a bank question. Pure: no I/O.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from grader.models import Question, Rubric
from grader.text.textsim import cosine, letter_grams, tokens
from grader.vocabulary import DEFAULT_MATCH_THRESHOLD

DEFAULT_THRESHOLD = DEFAULT_MATCH_THRESHOLD
GRAM_SHARE = 0.25

# Applied to folded (lower-case) text, in order, before tokenising: interviewers' rephrasings meet the bank's
# wording. The first pattern that matches a span wins, so specific phrases come before general ones.
PARAPHRASES: tuple[tuple[str, str], ...] = (
    (r"failure modes?|go(?:es)? (?:badly |very |horribly )?wrong|went wrong|what'?s hard|\bhard\b"
     r"|goes? awry|pitfalls?|problems?|issues?|difficult(?:y|ies)"
     r"|hard parts?|troubles?|tricky|gotchas?|headaches?|struggles?", "challenge"),
    (r"lessons? (?:you )?learn\w*|post-?mortems?|(?:project|deployment|launch)s? (?:that )?(?:failed|flopped)"
     r"|didn'?t (?:work|go well)|went badly|suboptimal|failed|flop\w*", "failedproject"),
    (r"case stud(?:y|ies)|success stor(?:y|ies)"
     r"|real value|example of an? (?:company|business|team|product)"
     r"|successful(?:ly)? (?:deploy\w*|implement\w*|project|rollout|use)"
     r"|worked (?:really )?well in (?:industry|production)", "casestudy"),
    (r"(?:keep|stay)\w* (?:\w+ ){0,3}up[- ]to[- ]date|fast[- ]moving"
     r"|stay(?:ing)? (?:up[- ]to[- ]date|updated|current|on top)|keep(?:ing)? (?:up|current|pace)"
     r"|latest (?:advances|advancements|research|developments|papers)|new papers|newsletters?", "keepup"),
    (r"intellectual property|copyrights?|\bip\b|ownership|who owns|licen[cs]\w*", "ipright"),
    (r"deep ?fakes?|face[- ]swaps?|voice clon\w*", "deepfake"),
    (r"chat ?bots?|conversational (?:agents?|ai|assistants?|systems?)|virtual assistants?|dialog(?:ue)? systems?",
     "chatbot"),
    (r"drug (?:discovery|design)|pharma\w*|molecul\w*|proteins?|healthcare|medic(?:al|ine)|clinical|patients?",
     "health"),
    (r"\bart\b|artists?|artwork|music\w*|creative|creativity|paintings?|songs?|composers?", "creativefield"),
    (r"retrieval[- ]augmented(?: generation)?|\brag\b|retrieval[- ]based|vector (?:databases?|stores?|search)",
     "retrievalgen"),
    (r"synthetic (?:\w+ )?data|data augmentation|augment\w*|fake data for training", "syntheticdata"),
    (r"imbalanc\w*|majority class\w*|\bmajority\b|skew\w*"
     r"|under-?represent\w*|minority class(?:es)?|rare class(?:es)?", "imbalance"),
    (r"neuro\w*|brains?|cognitive|cognition|psycholog\w*", "neuro"),
    (r"user experiences?|\bux\b|digital products?|product experiences?|personali[sz]\w*", "userexperience"),
    (r"user interfaces?|\bui\b|front[- ]?ends?|interface design", "userinterface"),
    (r"regulat\w*|legislat\w*|\blaws?\b|legal|policy makers?|policymakers?|compliance|\bai act\b|governments?",
     "regulation"),
    (r"privacy|privat\w*|personal data|\bpii\b|gdpr|hipaa|sensitive data|confidential\w*|phone numbers?"
     r"|e-?mail addresses|home addresses", "privacy"),
    (r"ethic\w*|moral\w*|responsib\w*|societ\w*|misuse", "ethic"),
    (r"collaborat\w*|cross-functional|work(?:ing)? (?:together )?with (?:domain experts|engineers|scientists)"
     r"|domain experts?", "collaborate"),
    (r"skills?|competenc\w*|knowledge areas?|what makes (?:a |an )?(?:good|great|strong|effective)", "skill"),
    (r"\barchitects?\b", "architectrole"),
    (r"hyper-?parameters?|learning rates?|batch sizes?", "hyperparameter"),
    (r"reproduc\w*|replicat\w*|determinis\w*|re-?runs?|same (?:results|numbers|outputs?)", "reproduce"),
    (r"over-?fit\w*|memori[sz]\w*|generali[sz]\w*", "overfit"),
    (r"interpret\w*|visuali[sz]\w*|explainab\w*|inspect\w*|make sense of", "interpret"),
    (r"limitations?|shortcomings?|weakness\w*|falls? short"
     r"|can'?t (?:yet |really |still )?do\b|what can'?t .{0,40}\bdo\b|still bad at|not (?:yet )?good at"
     r"|(?:isn'?t|aren'?t) (?:yet )?good at", "limitation"),
    (r"google|openai|deepmind|anthropic|meta ai|big (?:ai )?labs?|leading (?:companies|labs)|frontier labs?", "biglab"),
    (r"(?:huge|massive|giant|bigger|larger|very large) models?|\b\d+ ?b(?:illion)?(?: param\w*)? models?", "scale"),
    (r"future|next (?:few|five|ten) years|coming years|trends?|breakthroughs?|heading|what'?s next", "future"),
    (r"scal(?:e|es|ing)(?: up)?|bigger models|larger models|compute budgets?", "scale"),
    (r"mode dropping|dropp\w* modes?", "modedropping"),
    (r"(?:handful|couple|few|small number|small set) of (?:different |distinct )?(?:outputs?|samples?|images?|things?)"
     r"|low diversity|same (?:\w+ ){0,3}(?:outputs?|images?|samples?|faces?|digits?|things?)"
     r"|lack of (?:diversity|variety)", "modecollapse"),
    (r"divers\w*|variety|varied", "diversity"),
    (r"un-?conditional", "unconditional"),
    (r"class-conditional|conditional|conditioned|condition on|labels?", "conditional"),
    (r"self-supervised|self supervised", "selfsupervised"),
    (r"semi-supervised|semi supervised", "semisupervised"),
    (r"reinforcement learning|\brl\b|reward signals?|policy gradients?", "reinforce"),
    (r"human feedback|rlhf|preference (?:tuning|optimi[sz]ation|data|learning)|reward models?", "rlhf"),
    (r"diffusion|denois\w*|score[- ]based", "diffusion"),
    (r"autoregress\w*|next[- ]token prediction|token by token|one token at a time", "autoregressive"),
    (r"encoder[- ]decoder|seq2seq|sequence[- ]to[- ]sequence", "encoderdecoder"),
    (r"decoder[- ]only|pure decoders?", "decoderonly"),
    (r"encoder[- ]only|pure encoders?", "encoderonly"),
    (r"transfer learning|pre-?train\w* models?|foundation models?", "transferlearn"),
    (r"quanti[sz]\w*|int8|int4|lower precision|fewer bits", "quantize"),
    (r"prun\w*|sparsi\w*|distill\w*|compress\w*|smaller models?", "prune"),
    (r"deploy\w*|production|in prod\b|serving|serve|shipping|ship it|go(?:es|ing)? live|live next|millions? of users"
     r"|real users|roll(?:s|ing)? (?:it )?out|rollout", "deploy"),
    (r"\bperform(?:s|ing)?\b|too slow|slow(?:er)?\b|expensive|costly"
     r"|speed(?:ing)? up|faster|latency|throughput|efficien\w*|inference cost|cheaper|performance", "performance"),
    (r"stabili[sz]\w*|\bstable\b|unstable|instabilit\w*|blow\w* up|explod\w*|diverg\w*", "stabilize"),
    (r"loss(?:es)?|objective functions?|objectives?|cost functions?", "loss"),
    (r"differen\w*|differ\b|differs|compare[sd]?|comparison|contrast\w*|versus|\bvs\b|distinguish\w*|set apart",
     "difference"),
    (r"mitigat\w*|do about|solutions?|solv\w*"
     r"|fix(?:es|ed|ing)?|prevent\w*|avoid\w*|counter\w*|remed\w*|combat\w*|deal with|tackl\w*",
     "mitigate"),
    (r"\ban?\s+(?:\w+\s+){0,2}(?:application|app)\b|\bapps?\b", "softwareapp"),
    (r"use[- ]cases?|applications?|real[- ]world uses?|where (?:is|are) .{1,40} used", "application"),
    (r"industr(?:y|ies)|sectors?|domains?|enterprises?|businesses", "industry"),
    (r"risks?|harms?|dangers?|downsides?|threats?|worr(?:y|ies|ied|ying)|concerns?|concerning", "risk"),
    (r"attention|attend", "attention"),
    (r"building blocks|put together|made up of|consists? of|components?|pieces|parts|ingredients", "component"),
    (r"advance(?:ment)?s?|progress|push\w* (?:\w+ )?forward|contribut\w*|driv\w* (?:the )?(?:progress|field)",
     "advance"),
    (r"classic(?:al)?|traditional|conventional|discriminative|old-school|predictive", "traditional"),
    (r"make sure|ensur\w*|guarantee\w*", "ensure"),
    (r"transformers?", "transformer"),
)  # fmt: skip
_PARAPHRASE_RE = [(re.compile(rf"\b(?:{pattern})"), f" {word} ") for pattern, word in PARAPHRASES]


def _scan(pattern: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """Each unescaped character of a pattern from `start`, with its group depth (a bracket counts outside itself)."""
    depth, index = 0, start
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char in ")]":
            depth -= 1
        yield index, char, depth
        if char in "([":
            depth += 1
        index += 1


def _branches(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (`a|b(?:c|d)` -> `a`, `b(?:c|d)`)."""
    cuts = [index for index, char, depth in _scan(pattern) if char == "|" and depth == 0]
    return [pattern[start + 1 : end] for start, end in zip([-1, *cuts], [*cuts, len(pattern)], strict=True)]


def _end_of(pattern: str, index: int) -> int:
    """The index just after the group or character class that opens at `index`."""
    return next((i + 1 for i, char, depth in _scan(pattern, index) if char in ")]" and depth == 0), len(pattern))


def _branch_needs(branch: str) -> tuple[str, ...] | None:
    """Texts one of which every match of an alternative holds: its longest plain run, or a group's needs."""
    found: list[tuple[str, ...]] = []
    run, index = "", 0
    while index < len(branch):
        char = branch[index]
        if char in "([" or char == "\\" or not (char.isalnum() or char in " '-"):
            found.append((run,))
            run = ""
            after = _end_of(branch, index) if char in "([" else index + (2 if char == "\\" else 1)
            optional = branch[after : after + 1] in ("?", "*", "{")
            if branch.startswith("(?:", index) and not optional:
                inner = _needs(branch[index + 3 : after - 1])
                found.append(inner or ("",))
            index = after
            continue
        if branch[index + 1 : index + 2] in ("?", "*", "{"):
            found.append((run,))
            run, index = "", index + 2
            continue
        run += char
        index += 1
        if branch[index : index + 1] == "+":
            found.append((run,))
            run = ""
    found.append((run,))
    best = max(found, key=lambda needs: min(len(need) for need in needs))
    return best if min(len(need) for need in best) > 0 else None


def _needs(pattern: str) -> tuple[str, ...] | None:
    """Texts one of which a text must hold for the pattern to match in it; None when that cannot be told."""
    needs: list[str] = []
    for branch in _branches(pattern):
        found = _branch_needs(branch)
        if found is None:
            return None
        needs.extend(found)
    return tuple(dict.fromkeys(needs))


# A pattern none of whose alternatives' plain texts is in the text cannot match it: its 70-odd scans per
# question (the most of reading a transcript) are skipped for such patterns, which is almost all of them.
_PARAPHRASE_STEPS = [
    (regex, word, _needs(pattern)) for (regex, word), (pattern, _) in zip(_PARAPHRASE_RE, PARAPHRASES, strict=True)
]

# Words any interview question may carry: they say nothing about which question it is.
QUESTION_WORDS = frozenset(
    tokens(
        "explain describe walk me through talk tell discuss outline define give overview sense idea concept "
        "process approach work working role key main common primary important significance think know "
        "understand understanding mean means help helps happen happens maybe kind sort bit little quick quickly "
        "briefly let say said go going take taking want like love hear curious question next move now ok okay "
        "right great thanks thank cool good nice sure interesting experience experienced model models re ve ll "
        "uh um er erm hmm ah oh yeah basically actually topic topics bunch first one thing things stuff end"
    )
)


class RubricHints(NamedTuple):
    """What a rubric tells the matcher about its question: tags and criterion descriptions."""

    tags: Sequence[str] = ()
    descriptions: Sequence[str] = ()

    @classmethod
    def of(cls, rubric: Rubric) -> RubricHints:
        """The hints of a loaded rubric."""
        return cls(list(rubric.tags), [c.description for c in rubric.criteria])


@dataclass(frozen=True)
class Match:
    """The bank question an asked question matches, if any, with its score in 0 … 1."""

    question_id: str | None
    score: float
    best_id: str
    """The closest bank question even when below the threshold (for reports and debugging)."""
    runner_up: str | None = None
    runner_up_score: float = 0.0
    by: str = "words"
    """Who decided: "words" (the word matcher) or "llm" (`--llm-match`)."""


def topic_tokens(text: str) -> list[str]:
    """The content tokens of a question, after paraphrase folding, without generic question words."""
    return list(_topic_tokens(text))


@functools.lru_cache(maxsize=4096)  # segmenting asks again about the same turns (an open exchange's context)
def _topic_tokens(text: str) -> tuple[str, ...]:
    folded = text.casefold()
    for pattern, word, needs in _PARAPHRASE_STEPS:
        if needs is None or any(map(folded.__contains__, needs)):
            folded = pattern.sub(word, folded)
    return tuple(t for t in tokens(folded) if t not in QUESTION_WORDS)


def _weighted(parts: Sequence[tuple[str, float]]) -> dict[str, float]:
    bag: dict[str, float] = {}
    for text, weight in parts:
        words = set(topic_tokens(text))
        for word in words:
            bag[word] = bag.get(word, 0.0) + weight / max(1.0, math.sqrt(len(words)) / 3)
    return bag


class QuestionMatcher:
    """Matches asked questions to the bank; build once per bank, then call `match` for each question."""

    def __init__(
        self,
        questions: Sequence[Question],
        hints: Mapping[str, RubricHints | Rubric] | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        """Index the bank; rubrics or their hints (by question id) add tags and criteria where present."""
        if not questions:
            raise ValueError("an empty bank has nothing to match")
        self.threshold = threshold
        self.ids = [q.id for q in questions]
        hints = hints or {}
        bags: list[dict[str, float]] = []
        alias_bags: list[list[dict[str, float]]] = []
        for question in questions:
            alias_bags.append([_weighted([(alias, 1.0)]) for alias in question.aliases if alias.strip()])
            parts: list[tuple[str, float]] = [(question.question, 1.0), (question.subsection or "", 0.2)]
            hint = hints.get(question.id)
            if isinstance(hint, Rubric):
                hint = RubricHints.of(hint)
            if hint is not None:
                parts.append((" ".join(str(t).replace("-", " ") for t in hint.tags), 0.45))
                parts.extend((str(d), 0.12) for d in hint.descriptions)
            bags.append(_weighted(parts))
        frequency: Counter[str] = Counter()
        for bag, aliases in zip(bags, alias_bags, strict=True):
            frequency.update(set(bag).union(*aliases))
        count = len(bags)
        self.idf = {t: math.log((1 + count) / (1 + df)) + 1.0 for t, df in frequency.items()}
        self._vectors = [self._unit({t: w * self.idf[t] for t, w in bag.items()}) for bag in bags]
        self._grams = [self._gram_vector(bag) for bag in bags]
        self._aliases = [
            [(self._unit({t: w * self.idf[t] for t, w in bag.items()}), self._gram_vector(bag)) for bag in aliases]
            for aliases in alias_bags
        ]
        self._seen: dict[str, Match] = {}

    @staticmethod
    def _unit(vector: dict[str, float]) -> dict[str, float]:
        norm = math.sqrt(sum(v * v for v in vector.values()))
        return {t: v / norm for t, v in vector.items()} if norm else {}

    def _gram_vector(self, bag: Mapping[str, float]) -> dict[str, float]:
        grams: dict[str, float] = {}
        for word, weight in bag.items():
            for gram in letter_grams([word]):
                grams[gram] = grams.get(gram, 0.0) + weight * self.idf.get(word, 1.0)
        return self._unit(grams)

    def scores(self, asked: str) -> list[tuple[str, float]]:
        """Every bank question with its score for this asked question, best first."""
        words = topic_tokens(asked)
        if not words:
            return [(qid, 0.0) for qid in self.ids]
        default_idf = math.log(1 + len(self.ids)) + 1.0
        counts = Counter(words)
        query = self._unit({t: (1 + math.log(n)) * self.idf.get(t, default_idf) for t, n in counts.items()})
        grams = self._gram_vector({t: 1.0 + math.log(n) for t, n in counts.items()})

        def score(vector: dict[str, float], gram_vector: dict[str, float]) -> float:
            return (1 - GRAM_SHARE) * cosine(query, vector) + GRAM_SHARE * cosine(grams, gram_vector)

        ranked = [
            (qid, max([score(vector, gram_vector), *(score(v, g) for v, g in aliases)]))
            for qid, vector, gram_vector, aliases in zip(
                self.ids, self._vectors, self._grams, self._aliases, strict=True
            )
        ]
        return sorted(ranked, key=lambda item: -item[1])

    def match(self, asked: str) -> Match:
        """The bank question this asked question means, or an unmatched Match below the threshold."""
        found = self._seen.get(asked)
        if found is None:
            found = self._match(asked)
            if len(self._seen) < 10_000:  # interviewers repeat themselves across a batch's transcripts
                self._seen[asked] = found
        return found

    def _match(self, asked: str) -> Match:
        ranked = self.scores(asked)
        best_id, best = ranked[0]
        runner_id, runner = ranked[1] if len(ranked) > 1 else (None, 0.0)
        score = round(min(1.0, best), 4)
        return Match(
            question_id=best_id if best >= self.threshold else None,
            score=score,
            best_id=best_id,
            runner_up=runner_id,
            runner_up_score=round(runner, 4),
        )
