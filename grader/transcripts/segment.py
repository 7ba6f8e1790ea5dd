"""Segmenting a conversation whose roles are known: which interviewer turns ask a question, which follow up.

Any interviewer turn that the candidate answers at some length is a candidate question, punctuated or not
(raw ASR has no "?"); the matcher decides what it is. A question that refers back to the open answer ("and the
decoder side?", "why?", "how would you fix that?") is a follow-up and stays with it; one that opens a new topic
("next topic …", a question about the candidate's career) starts a new exchange, bank or off-bank. Only
logistics and pleasantries are small talk. Every candidate word is accounted for (`Coverage`): graded under a
bank id, or in a listed stretch graded nowhere, with its reason. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from grader.transcripts.formats import MAX_TURN_CHARS, Turn
from grader.transcripts.matching import Match, QuestionMatcher, topic_tokens

Matcher = Callable[[str], Match]
MAX_ASKED_CHARS = 500
MAX_FOLLOW_UPS = 20
MAX_UNMATCHED = 200
UNMATCHED_ANSWER_CHARS = 2_000
"""Bounds that keep memory flat however long a transcript is."""
STRONG_MATCH = 0.5
"""A match this strong starts a new question even when it is phrased like a follow-up."""
LONG_STATEMENT_WORDS = 45
"""An interviewer turn this long without a question changes the subject (e.g. presenting the role)."""

_FILLER = r"(?:(?:so|and|ok(?:ay)?|now|next|alright|all right|right|great|good|cool|then|well|first(?:ly)?|second(?:ly)?|finally|lastly|thanks?|thank you|perfect|nice|got it|sure|moving on)[,.!]?\s+)*"  # noqa: E501
_PROMPT = re.compile(
    rf"^{_FILLER}(?:(?:can|could|would) you (?:please )?|please )?(?:explain|describe|walk (?:me|us) through"
    r"|talk (?:me|us) through|take (?:me|us) through|tell (?:me|us) (?:about|how|why|what|where|when)|discuss"
    r"|compare|contrast|define|outline|give (?:me|us) (?:an? )?(?:overview|example|sense|rundown|run-down)"
    r"|let'?s (?:talk|discuss|move on to|turn to|switch to|go to|dig into)|i'?d (?:like|love) (?:you )?to (?:hear|know)"
    r"|i want (?:you )?to (?:hear|know)|share (?:your|how|what))\b",
    re.I,
)
_SMALL_TALK = re.compile(
    r"\b(?:how are you|how'?s it going|how(?:'s| is| was) (?:your|the) (?:day|week|weekend|morning|afternoon|trip)"
    r"|quick sound check|anything you'?d like to (?:ask|add)"
    r"|ask (?:us|me) anything"
    r"|(?:can|could) you (?:hear|see) (?:me|us|my screen)|hear me (?:ok|okay|alright|fine)|you'?re on mute|muted"
    r"|your (?:camera|mic|microphone|audio|video|connection)|good (?:morning|afternoon|evening)"
    r"|thanks? (?:you )?(?:so much )?for (?:joining|coming|your time|taking the time|having me)|nice to meet"
    r"|weather|weekend|coffee|traffic|commute|find (?:the|our) (?:building|office|place)|find us"
    r"|ready to (?:start|begin|get started|go|dive in)|shall we (?:start|begin|get started|dive in)"
    r"|(?:do|did) you have any questions|any questions for (?:me|us)|questions for (?:me|us)"
    r"|where are you (?:based|located|calling from|joining from)|next steps"
    r"|hear back|does that (?:answer|help|make sense)|anything else (?:you'?d like|to add)"
    r"|notice period|salary|start date|before we (?:start|begin|wrap up|finish)"
    r"|wrap (?:things )?up|that'?s all (?:from me|the questions|i have))",
    re.I,
)
_FOLLOW_UP = re.compile(
    rf"^{_FILLER}(?:(?:could|can|would) you (?:please )?(?:say|tell (?:me|us)|talk|expand|elaborate|go (?:a bit )?"
    r"(?:deeper|further)|dig|unpack|give (?:me|us) an example|clarify|be more specific)|say more|tell me more"
    r"|go (?:a bit )?deeper|what do you mean|why (?:not|that|so|is that)|how so|how come|for example"
    r"|such as|what about|how about|what (?:happens|would happen) (?:if|when)|what if|you (?:mentioned|said|talked)"
    r"|earlier you|just to (?:clarify|check|confirm)|to clarify|follow(?:ing)?[- ]up|on that (?:note|point)"
    r"|building on that|going back to that|how (?:would|do|does|did|could) "
    r"(?:that|this|it|they|those)|is (?:that|this|it) )",
    re.I,
)
_PART_OF = re.compile(
    r"\b(?:the (?:\w+ ){0,2}(?:part|side|bit|piece|step|half|case)|specifically|in particular|in that case)\b", re.I
)
"""A question about a part of what was just said ("the latency part specifically")."""
_ANAPHOR = re.compile(r"\b(?:it|that|this|those|these|they|them|its|their|which one|either|both)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.?!])\s+|\s+(?:[—–]|--?)\s+")


@dataclass
class Exchange:
    """One question as asked and the candidate's whole reply to it (follow-ups included)."""

    asked: str
    line: int
    question_id: str | None = None
    match_score: float = 0.0
    matched_by: str = "words"
    answer: str = ""
    follow_ups: list[str] = field(default_factory=list)
    truncated: bool = False
    words: int = 0
    """All the words of the reply, kept or not."""
    limit: int = MAX_TURN_CHARS
    """What the answer may hold; unmatched questions keep only a little (they are listed, not graded)."""

    def add(self, text: str, truncated: bool = False) -> int:
        """Append the candidate's words, up to `limit` characters in all; returns the words kept."""
        self.truncated = self.truncated or truncated
        self.words += len(text.split())
        room = self.limit - len(self.answer)
        if len(text) > room:
            text, self.truncated = text[: max(0, room)], True
        if text:
            self.answer = f"{self.answer}\n\n{text}" if self.answer else text
        return len(text.split())


_NEW_TOPIC = re.compile(
    r"\b(?:next (?:topic|question|one|thing|area|up)|moving on|move on|let'?s (?:move|switch|turn|change|shift|go to)"
    r"|switch(?:ing)? (?:gears|topics?)|chang(?:e|ing) (?:gears|topics?|tack)|shifting gears"
    r"|different (?:topic|question|area|direction|subject|note)"
    r"|new topic|another (?:topic|question|area)|unrelated|separate question"
    r"|something (?:else|different)|a different)\b",
    re.I,
)
_CAREER = re.compile(
    r"\b(?:your (?:last|previous|current|former|past|next|old|new) (?:job|role|company|team|employer|position|manager"
    r"|project|gig)"
    r"|why (?:did|do|are|would|were) you (?:leave|left|want|join|apply|move|switch|change|look|interest)\w*"
    r"|(?:this|the|our) (?:role|position|job|opening|company)\b"
    r"|why (?:this|our|the) (?:role|company|team|position|job)|career|job change|changing jobs"
    r"|leav(?:e|ing) (?:your|the) (?:job|role|company|team)|where do you see yourself|proud of|weakness(?:es)?"
    r"|strengths?|relocat\w*|tell (?:me|us) (?:a (?:bit|little) )?about yourself|introduce yourself"
    r"|your background|hobbies|free time|your (?:biggest|favou?rite|proudest|best|worst|hardest)"
    r"|project you'?ve (?:owned|led|run|worked on|done))\b",
    re.I,
)
"""Questions about the candidate's career and person: never a bank question, whatever words they share."""
_BEHAVIOURAL = re.compile(
    r"\b(?:about a time|a time (?:when|where|you|that)|an? (?:situation|occasion|case) (?:when|where|in which|that)"
    r"|an example of (?:when|a time)|disagree\w*|conflict\w*|pushback|push back)\b",
    re.I,
)
"""Behavioural framing: a bank question only on a strong match (the bank's questions are technical)."""
BEHAVIOURAL_THRESHOLD = 0.45
_LEADING_AND = re.compile(rf"^(?:\W*(?:um+|uh+|er|hm+)\W+)*{_FILLER}(?:and|but|or|also|plus)\b", re.I)
"""An opening "and …" continues the open exchange when the question names little that is new."""
_ASKING_WORD = re.compile(
    r"\b(?:what|how|why|which|when|where|who|can|could|would|do|does|did|is|are|tell|explain|describe|walk|talk"
    r"|curious|wonder\w*|thoughts?|think|share|discuss|compare|approach|handle)\b",
    re.I,
)
_LAST_CLAUSE = re.compile(
    r"(?:,\s*|\s)((?:(?:how|what|why|which) (?:do|does|would|could|can|is|are|should|did)|(?:can|could|would) you)"
    r"\b[^,]*)$",
    re.I,
)
"""The last clause that asks ("…, how do you keep their data safe?"): matched alone as well as whole."""
SUBSTANTIVE_REPLY_WORDS = 15
"""A candidate reply this long makes the interviewer turn before it a candidate question, punctuated or not."""
BACKCHANNEL_WORDS = 8
"""An interviewer turn this short, asking nothing, is a nod ("mm-hmm, go on"): the answer continues."""
NEW_WORDS_FOR_NEW_TOPIC = 2
"""A short question that names this many topic words absent from the open exchange opens a new one."""


class Roles:
    """Who interviews and who answers."""

    def __init__(self, interviewers: Iterable[str], candidate: str) -> None:
        """Name the interviewers (one or more) and the candidate."""
        self.interviewers = frozenset(interviewers)
        self.candidate = candidate


def sentences(text: str) -> list[str]:
    """Sentences of a turn (split after . ? !)."""
    return [s for s in _SENTENCE.split(text.strip()) if s.strip()]


def is_question(sentence: str) -> bool:
    """A sentence that asks something: a question mark, or a prompt such as "walk me through …"."""
    return sentence.rstrip().rstrip("\"')").endswith("?") or bool(_PROMPT.match(sentence.strip()))


def is_small_talk(text: str) -> bool:
    """Greetings, logistics and wrap-up, which are never graded."""
    return bool(_SMALL_TALK.search(text))


def merge_turns(turns: Iterable[Turn]) -> Iterator[Turn]:
    """Join consecutive turns of one speaker (an answer spread over many cues), capped at MAX_TURN_CHARS."""
    current: Turn | None = None
    for turn in turns:
        if current is not None and turn.speaker == current.speaker:
            room = MAX_TURN_CHARS - len(current.text)
            current.text = f"{current.text} {turn.text[: max(0, room - 1)]}".strip()
            current.truncated = current.truncated or turn.truncated or len(turn.text) >= room
            continue
        if current is not None:
            yield current
        current = Turn(turn.speaker, turn.text, turn.line, turn.truncated)
    if current is not None:
        yield current


@dataclass
class Coverage:
    """How a transcript's candidate words were used: graded under a bank id, or in a stretch graded nowhere."""

    candidate_words: int = 0
    graded_words: int = 0
    ungraded: list[dict[str, object]] = field(default_factory=list)
    """Stretches of candidate speech graded nowhere: {"line", "words", "reason", "asked"?}, in order."""
    MAX_STRETCHES = 500

    def skip(self, line: int, words: int, reason: str, asked: str | None = None) -> None:
        """Count `words` as graded nowhere, joined to the previous stretch when it has the same reason."""
        if words <= 0:
            return
        last = self.ungraded[-1] if self.ungraded else None
        if last is not None and last["reason"] == reason and last.get("asked") == asked:
            last["words"] = int(str(last["words"])) + words
            return
        stretch: dict[str, object] = {"line": line, "words": words, "reason": reason}
        if asked is not None:
            stretch["asked"] = asked
        if len(self.ungraded) < self.MAX_STRETCHES:
            self.ungraded.append(stretch)
        elif last is not None:  # bounded: the last stretch absorbs the rest, so the sum stays exact
            last["words"] = int(str(last["words"])) + words

    @property
    def ungraded_words(self) -> int:
        """Candidate words graded nowhere (the sum of the stretches)."""
        return sum(int(str(s["words"])) for s in self.ungraded)

    @property
    def share(self) -> float | None:
        """Graded words / candidate words, or None for a transcript where the candidate said nothing."""
        return round(self.graded_words / self.candidate_words, 4) if self.candidate_words else None

    def as_dict(self) -> dict[str, object]:
        """The summary.json form."""
        return {
            "candidate_words": self.candidate_words,
            "graded_words": self.graded_words,
            "ungraded_words": self.ungraded_words,
            "graded_share": self.share,
            "ungraded": self.ungraded,
        }


def vetted(asked: str, match: Match) -> Match:
    """The match, or unmatched when the question is about the candidate's career or weakly matched behaviour."""
    if match.question_id is None or match.by != "words":  # a model's or a corrected plan's decision stands
        return match
    if _CAREER.search(asked) or (_BEHAVIOURAL.search(asked) and match.score < BEHAVIOURAL_THRESHOLD):
        return replace(match, question_id=None)
    return match


_NOD = re.compile(
    r"\b(?:makes? sense|i see|gotcha|got it|fair enough|fair point|good point|exactly|totally|absolutely|of course"
    r"|go on|go ahead|keep going|carry on|please continue|continue|mm+-?hm+|uh-?huh|yeah|yep|yes|ok(?:ay)?|right"
    r"|sure|cool|nice|great|perfect|awesome|interesting|wow|hmm+|understood|noted|that'?s (?:fair|helpful|great))\b",
    re.I,
)


def _is_backchannel(text: str) -> bool:
    """A nod ("mm-hmm", "makes sense, go on"): short, asks nothing and names no topic. "RLHF?" is a question."""
    if len(text.split()) > BACKCHANNEL_WORDS or _ASKING_WORD.search(text):
        return False
    return not topic_tokens(_NOD.sub(" ", text))


def question_in(text: str, matcher: Matcher, reply_words: int = 0) -> tuple[str, str, Match | None]:
    """("none" | "small_talk" | "question", the question as asked, its match) for an interviewer turn."""
    kind, asked, _, match = _question_in(text, matcher, reply_words)
    return kind, asked, match


CONTEXT_CHARS = 600
"""Of the turns around a question, what `--llm-match` shows the model (the end before, the start after)."""


def _question_in(
    text: str, matcher: Matcher, reply_words: int = 0, around: tuple[str, str] = ("", "")
) -> tuple[str, str, str, Match | None]:
    """("none" | "small_talk" | "question", the question as asked, its match) for an interviewer turn.

    A turn asks when a sentence ends in "?" or opens with a prompt ("walk me through …"); the asked text runs
    from the first real question to the end of the turn, with the sentence before it when that sentence names
    the topic ("The KL term in VAEs. Why does it matter?"). A turn that does neither still asks when the
    candidate answers it at length (`reply_words`), unless it is a nod ("right, go on").
    """
    parts = sentences(text)
    pieces: list[str] = []
    """Parts of the turn, which may firm up the whole turn's best candidate but never switch to another."""
    asking = [i for i, s in enumerate(parts) if is_question(s)]
    real = [i for i in asking if not is_small_talk(parts[i])]
    # The parts are weighed by the word matcher alone; only the chosen one goes to `matcher`, so a referee that
    # records what it is asked (--llm-match) sees one question per turn.
    inner = getattr(matcher, "matcher", None)
    quiet: Matcher = inner.match if isinstance(inner, QuestionMatcher) else matcher
    if not real:
        rest = parts[asking[-1] + 1 :] if asking else parts
        said = " ".join(rest)
        # Answered at length, or (a short or keyword reply) unmistakably a bank question: either way its own
        # exchange, never folded into the answer before it.
        asks = reply_words >= SUBSTANTIVE_REPLY_WORDS or (
            bool(rest) and vetted(said, quiet(said)).question_id is not None
        )
        if not asks or not rest or _is_backchannel(said) or is_small_talk(said):
            if asking:
                small = " ".join(parts[i] for i in asking)[:MAX_ASKED_CHARS]
                return "small_talk", small, small, None
            return "none", "", "", None
        tail = " ".join(rest[-3:])
        options = [tail[-MAX_ASKED_CHARS:]]
        if len(rest) == 1 and len(tail.split()) > 14:  # raw ASR: one long "sentence", the question at its end
            pieces.append(" ".join(tail.split()[-12:]))
        if len(rest) > 1:
            pieces.append(rest[-1][-MAX_ASKED_CHARS:])
    else:
        first = real[0]
        options = [" ".join(parts[first:])[:MAX_ASKED_CHARS]]
        if first > 0 and topic_tokens(parts[first - 1]) and not is_small_talk(parts[first - 1]):
            options.append(" ".join(parts[first - 1 :])[:MAX_ASKED_CHARS])
    clause = _LAST_CLAUSE.search(options[0])
    if clause and len(topic_tokens(clause.group(1))) >= 2:
        pieces.append(clause.group(1))
    scored = [(vetted(option, quiet(option)), option) for option in options]
    # A piece (the last clause, the end of a long ASR turn) may firm up the whole turn's best candidate, never
    # switch to another: "…, what would worry you?" alone is about risk; in its context, about deployment.
    whole_best = quiet(max(options, key=len)).best_id
    scored += [(m, p) for p in pieces if (m := vetted(p, quiet(p))).best_id == whole_best]
    best, asked = max(scored, key=lambda pair: (pair[0].question_id is not None, pair[0].score))
    contexts = getattr(matcher, "contexts", None)
    if isinstance(contexts, dict) and len(contexts) < 10_000:  # a referee shows the model the turns around it
        before, after = around
        contexts[asked if best.question_id is not None else max(options, key=len)] = (
            f"[the candidate, before] …{before[-CONTEXT_CHARS:]}\n[the interviewer] {text[-CONTEXT_CHARS:]}\n"
            f"[the candidate, after] {after[:CONTEXT_CHARS]}…"
        )
    whole = max(options, key=len)
    asked = asked if best.question_id is not None else whole
    match = vetted(asked, matcher(asked))
    # Whether it follows up is judged on the whole of it (with its topic sentence), whichever part matched best.
    return "question", asked, whole, match


def _context(open_: Exchange) -> set[str]:
    return set(topic_tokens(open_.asked + " " + " ".join(open_.follow_ups) + " " + open_.answer[-6000:]))


def _new_words(asked: str, open_: Exchange) -> int:
    return len(set(topic_tokens(asked)) - _context(open_))


def is_follow_up(asked: str, match: Match, open_: Exchange) -> bool:
    """Whether a question refers back to the open exchange rather than opening a new topic."""
    if match.by == "plan":  # a corrected plan lists questions only, never follow-ups
        return match.question_id is not None and match.question_id == open_.question_id
    if _NEW_TOPIC.search(asked) or _CAREER.search(asked) or _BEHAVIOURAL.search(asked):
        return False
    if match.question_id is not None and match.question_id == open_.question_id:
        return True
    words = asked.split()
    new = _new_words(asked, open_)
    conjoined = bool(_LEADING_AND.match(asked)) and (new < NEW_WORDS_FOR_NEW_TOPIC or bool(_ANAPHOR.search(asked)))
    explicit = conjoined or bool(_FOLLOW_UP.match(asked)) or not topic_tokens(asked)
    explicit = explicit or (len(words) <= 12 and bool(_PART_OF.search(asked)))
    anaphor = _ANAPHOR.search(asked)
    # "positional encodings, why do we need them" names its own subject before the pronoun.
    named = len(set(topic_tokens(asked[: anaphor.start()])) - _context(open_)) if anaphor is not None else 99
    anaphoric = len(words) <= 12 and named <= 1 and new <= NEW_WORDS_FOR_NEW_TOPIC + 1
    # "Why does the Wasserstein loss help?" right after an answer about the Wasserstein loss.
    # "So you'd basically retrain the whole thing every time the data changes" after an answer about retraining.
    shared = len(set(topic_tokens(asked)) & set(topic_tokens(open_.answer[-6000:])))
    picks_up = new <= 1 and ((len(words) <= 8 and shared >= 1) or (len(words) <= 25 and shared >= 2))
    if match.question_id is not None:
        # "Have you used it in production?" names a topic of the bank, but "it" is the open question's subject.
        # A bank question that names its own subject first ("RLHF, explain it …") is a new question.
        return ((anaphoric and named == 0) or (len(words) <= 12 and explicit)) and match.score < STRONG_MATCH
    return explicit or anaphoric or picks_up


def _lookahead(turns: Iterable[Turn]) -> Iterator[tuple[Turn, Turn | None]]:
    previous: Turn | None = None
    for turn in turns:
        if previous is not None:
            yield previous, turn
        previous = turn
    if previous is not None:
        yield previous, None


@dataclass
class Segmented:
    """What segmentation yields."""

    answers: list[Exchange]
    unmatched: list[Exchange]
    coverage: Coverage


def segment_all(turns: Iterable[Turn], roles: Roles, matcher: Matcher) -> Segmented:
    """Answers under bank ids, unmatched questions and the coverage of a conversation whose roles are known."""
    by_id: dict[str, Exchange] = {}
    unmatched: list[Exchange] = []
    coverage = Coverage()
    open_: Exchange | None = None
    silence = "before any question"
    for turn, following in _lookahead(merge_turns(turns)):
        if turn.speaker == roles.candidate:
            words = len(turn.text.split())
            coverage.candidate_words += words
            if open_ is None:
                coverage.skip(turn.line, words, silence)
            elif open_.question_id is None:
                open_.add(turn.text, turn.truncated)
                coverage.skip(turn.line, words, "unmatched question", open_.asked)
            else:
                kept = min(words, open_.add(turn.text, turn.truncated))
                coverage.graded_words += kept
                coverage.skip(turn.line, words - kept, "over the answer length limit", open_.asked)
            continue
        if turn.speaker not in roles.interviewers:
            continue
        reply = len(following.text.split()) if following is not None and following.speaker == roles.candidate else 0
        after = following.text if following is not None and following.speaker == roles.candidate else ""
        before = open_.answer if open_ is not None else ""
        kind, asked, whole, match = _question_in(turn.text, matcher, reply, (before, after))
        if kind == "none":
            if len(turn.text.split()) > LONG_STATEMENT_WORDS:
                open_, silence = None, "after an interviewer's statement"
            continue
        if kind == "small_talk" or match is None:
            open_, silence = None, "small talk"
            continue
        if open_ is not None and open_.answer and is_follow_up(whole, match, open_):
            if len(open_.follow_ups) < MAX_FOLLOW_UPS:
                open_.follow_ups.append(asked)
            continue
        if match.question_id is not None and match.question_id in by_id:
            open_ = by_id[match.question_id]
            if len(open_.follow_ups) < MAX_FOLLOW_UPS:
                open_.follow_ups.append(asked)
            continue
        open_ = Exchange(asked, turn.line, match.question_id, match.score, match.by)
        if match.question_id is not None:
            by_id[match.question_id] = open_
        else:
            open_.limit = UNMATCHED_ANSWER_CHARS
            if len(unmatched) < MAX_UNMATCHED:
                unmatched.append(open_)
    return Segmented(list(by_id.values()), unmatched, coverage)


def segment(turns: Iterable[Turn], roles: Roles, matcher: Matcher) -> tuple[list[Exchange], list[Exchange]]:
    """(answers under bank ids, unmatched questions) of a conversation whose roles are known."""
    found = segment_all(turns, roles, matcher)
    return found.answers, found.unmatched
