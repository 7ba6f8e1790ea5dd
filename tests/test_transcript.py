"""Transcripts: every format parses, roles are recognised, answers gathered under the right bank ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.errors import InputError, TranscriptError
from grader.transcripts.formats import MAX_TURN_CHARS, Turn, detect_format
from grader.transcripts.interview import (
    assign_roles,
    is_question,
    is_small_talk,
    plan_inputs,
    read_interview,
    speaker_stats,
)
from grader.transcripts.matching import QuestionMatcher
from grader.transcripts.read import parse_turns
from grader.transcripts.tables import parse_table

DATA = Path(__file__).parent / "data" / "transcripts"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def matcher() -> QuestionMatcher:
    from grader.batch.plan import rubric_hints
    from grader.config import Settings
    from grader.grading.service import GradingService

    service = GradingService(Settings(backend="offline", use_cache=False, bank=REPO))
    return QuestionMatcher(service.questions, rubric_hints(service))


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- the sample transcripts: each format, paraphrases, follow-ups, small talk, an off-bank question ---------

SAMPLES = [
    pytest.param("zoom_priya_raman.vtt", "vtt", "Priya Raman", ["Dana Whitfield"], ["q07", "q05", "q09", "q50"],
                 ["feature store"], id="zoom_vtt_name_colon_cues"),
    pytest.param("teams_sofia_alvarez.vtt", "vtt", "Sofia Alvarez", ["Aisha Khan", "Marcus Chen"],
                 ["q14", "q15", "q24", "q19"], [], id="teams_vtt_voice_tags_two_interviewers"),
    pytest.param("otter_speaker_labels.txt", "text", "Speaker 2", ["Speaker 1"], ["q25", "q20", "q33"],
                 ["disagreed with a teammate"], id="otter_txt_speaker_n"),
    pytest.param("captions_wei_zhang.srt", "srt", "Wei Zhang", ["Jordan Lee"], ["q08", "q11", "q30"], [],
                 id="srt_labels_on_first_cue_only"),
    pytest.param("diarized_turns.json", "json", "SPEAKER_01", ["SPEAKER_00"], ["q01", "q03", "q06", "q46"], [],
                 id="json_diarized_speaker_00"),
    pytest.param("markdown_labels.md", "text", "Candidate", ["Interviewer"], ["q21", "q22"], [],
                 id="markdown_bold_labels"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "fmt", "candidate", "interviewers", "question_ids", "unmatched"), SAMPLES)
def test_sample_transcripts_are_graded_question_by_question(
    matcher: QuestionMatcher,
    name: str,
    fmt: str,
    candidate: str,
    interviewers: list[str],
    question_ids: list[str],
    unmatched: list[str],
) -> None:
    path = DATA / name
    assert detect_format(path) == fmt
    interview = read_interview(path, matcher.match)
    assert interview.candidate == candidate
    assert interview.interviewers == interviewers
    assert [a.question_id for a in interview.answers] == question_ids
    assert all(len(a.answer.split()) >= 20 for a in interview.answers)
    assert len(interview.unmatched) == len(unmatched)
    for exchange, words in zip(interview.unmatched, unmatched, strict=True):
        assert words in exchange.asked and exchange.question_id is None


def test_follow_ups_and_split_cues_are_gathered_into_one_answer(matcher: QuestionMatcher) -> None:
    interview = read_interview(DATA / "zoom_priya_raman.vtt", matcher.match)
    q07 = interview.answers[0]
    assert q07.question_id == "q07" and q07.asked == "Walk me through training a GAN and what goes wrong."
    assert q07.follow_ups == ["Could you say more about why a discriminator that wins is a problem?"]
    # the first cue, a cue after the interviewer's "Mm-hmm.", and the reply to the follow-up
    for words in ("So you have two networks", "Then you update the generator", "If D separates real and fake"):
        assert words in q07.answer
    assert "Mm-hmm" not in q07.answer
    everything = " ".join(a.answer for a in interview.answers + interview.unmatched)
    assert "loud and clear" not in everything  # small talk is nobody's answer
    assert "what does the team mostly work on" not in everything  # nor the candidate's own questions


def test_a_bank_question_phrased_as_what_about_is_a_new_question_not_a_follow_up(matcher: QuestionMatcher) -> None:
    interview = read_interview(DATA / "zoom_priya_raman.vtt", matcher.match)
    q05, q09 = interview.answers[1], interview.answers[2]
    assert q09.asked.startswith("What about the KL term")
    assert "KL of q of z given x" in q09.answer and "KL of q of z given x" not in q05.answer


def test_a_question_asked_again_later_joins_the_first_answer(tmp_path: Path, matcher: QuestionMatcher) -> None:
    path = write(tmp_path, "t.txt", (
        "Ann: What is mode collapse in GANs and how do you mitigate it?\n"
        "Bob: The generator produces only a few modes and ignores the rest of the data distribution entirely.\n"
        "Ann: How does a VAE differ from a GAN?\n"
        "Bob: A VAE has an encoder and maximises the ELBO, a GAN plays an adversarial game with a discriminator.\n"
        "Ann: Going back to mode collapse in GANs, how would you mitigate it?\n"
        "Bob: Minibatch discrimination, unrolled GANs, or a Wasserstein loss with gradient penalty help a lot.\n"
    ))  # fmt: skip
    interview = read_interview(path, matcher.match)
    assert [a.question_id for a in interview.answers] == ["q08", "q05"]
    assert "Minibatch discrimination" in interview.answers[0].answer
    assert len(interview.answers[0].follow_ups) == 1


@pytest.mark.parametrize(
    "follow_up",
    [
        pytest.param("Interesting. Have you used it in production?", id="pronoun_refers_back"),
        pytest.param("And why is that?", id="why_after_filler"),
        pytest.param("Could you give me an example?", id="example_please"),
        pytest.param("What happens if the discriminator is much stronger than the generator?", id="what_if"),
    ],
)
def test_follow_ups_stay_with_the_open_question(tmp_path: Path, matcher: QuestionMatcher, follow_up: str) -> None:
    path = write(tmp_path, "t.txt", (
        "Ann: Walk me through training a GAN and what goes wrong.\n"
        "Bob: You alternate discriminator and generator updates and watch for mode collapse.\n"
        f"Ann: {follow_up}\n"
        "Bob: Yes, with spectral normalisation the discriminator stayed in check on our faces dataset.\n"
        "Ann: How would you design a feature store for a recommendation system?\n"
        "Bob: An offline store for training and an online store for serving.\n"
    ))  # fmt: skip
    interview = read_interview(path, matcher.match)
    assert [a.question_id for a in interview.answers] == ["q07"]
    assert interview.answers[0].follow_ups == [follow_up.removeprefix("Interesting. ")]
    assert "spectral" in interview.answers[0].answer
    assert [u.asked for u in interview.unmatched] == [
        "How would you design a feature store for a recommendation system?"
    ]


def test_interviewer_can_be_named(tmp_path: Path, matcher: QuestionMatcher) -> None:
    path = write(tmp_path, "t.txt", (
        "Alex: What is a VAE and how does it differ from a GAN?\n"
        "Sam: It has an encoder and a decoder and is trained on the evidence lower bound, unlike a GAN.\n"
        "Alex: What about the KL divergence in VAEs?\n"
        "Sam: It keeps the posterior close to the prior so the latent space is smooth and can be sampled.\n"
    ))  # fmt: skip
    assert read_interview(path, matcher.match).candidate == "Sam"
    named = read_interview(path, matcher.match, interviewers=["sam"])
    assert named.interviewers == ["Sam"] and named.candidate == "Alex"


# --- roles without configuration ---------------------------------------------------------------------------


def turns(*pairs: tuple[str, str]) -> list[Turn]:
    return [Turn(speaker, text, line) for line, (speaker, text) in enumerate(pairs, 1)]


@pytest.mark.parametrize(
    ("conversation", "interviewers", "candidate"),
    [
        pytest.param(turns(("A", "What is a GAN?"), ("B", "A generator and a discriminator trained together."),
                           ("A", "And a VAE?"), ("B", "An encoder, a decoder and the ELBO objective.")),
                     {"A"}, "B", id="two_speakers"),
        pytest.param(turns(("Host", "Hi."), ("Guest", "What is a GAN? " + "word " * 50), ("Host", "Two networks.")),
                     {"Host"}, "Guest", id="role_label_beats_behaviour"),
        pytest.param(turns(("P", "Hello all."), ("A", "What is a GAN?"), ("B", "Two networks " * 10),
                           ("C", "Why does it matter?"), ("B", "Because " * 30)),
                     {"A", "C"}, "B", id="panel_and_a_silent_observer"),
        pytest.param(turns(("Q", "What is a GAN?"), ("A", "Two networks.")), {"Q"}, "A", id="q_and_a_labels"),
        pytest.param(turns(("A", "What is a GAN?"), ("B", "Two networks " * 20), ("A", "Any questions for me?"),
                           ("B", "What does the team do?"), ("A", "We build things " * 15)),
                     {"A"}, "B", id="candidate_asks_at_the_end"),
    ],
)  # fmt: skip
def test_roles_are_recognised(conversation: list[Turn], interviewers: set[str], candidate: str) -> None:
    roles = assign_roles(speaker_stats(conversation))
    assert set(roles.interviewers) == interviewers and roles.candidate == candidate


def test_one_speaker_is_an_error() -> None:
    with pytest.raises(TranscriptError, match="only one speaker"):
        assign_roles(speaker_stats(turns(("A", "What is a GAN?"), ("A", "Well, two networks."))))


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        pytest.param("How does a VAE work?", True, id="question_mark"),
        pytest.param("Walk me through training a GAN.", True, id="imperative_prompt"),
        pytest.param("So, next, explain the KL term.", True, id="prompt_after_fillers"),
        pytest.param("What I'd say is that it depends.", False, id="wh_word_statement"),
        pytest.param("Great answer.", False, id="acknowledgement"),
    ],
)
def test_question_detection(sentence: str, question: bool) -> None:
    assert is_question(sentence) is question


@pytest.mark.parametrize(
    "text",
    ["Can you hear me okay?", "How's your day going?", "Do you have any questions for us?", "Shall we get started?",
     "Anything you'd like to ask us?"],
)  # fmt: skip
def test_small_talk(text: str) -> None:
    assert is_small_talk(text)


# --- parsers: hostile and odd inputs ----------------------------------------------------------------------

PARSED = [
    pytest.param("a.vtt", "WEBVTT\n\nNOTE written by hand\n\nSTYLE\n::cue { color: red }\n\n1\n00:01.000 --> 00:02.000 "
                 "align:start\n<v.loud Ann>Is <i>this</i> R&amp;D?</v>\n\n00:02.500 --> 00:03.000\n<v Bob>Yes.</v>\n",
                 [("Ann", "Is this R&D?"), ("Bob", "Yes.")], id="vtt_note_style_settings_classes_entities"),
    pytest.param("a.vtt", "WEBVTT\nKind: captions\nLanguage: en\n\n00:00:01.000 --> 00:00:02.000\nAnn: Hi?\n\n"
                 "00:00:02.000 --> 00:00:03.000\nBob: Hello.\n\n00:00:03.000 --> 00:00:04.000\nand more.\n",
                 [("Ann", "Hi?"), ("Bob", "Hello. and more.")], id="vtt_header_metadata_and_unlabelled_cue"),
    pytest.param("a.srt", "1\r\n00:00:01,000 --> 00:00:02,000\r\nAnn: Hi?\r\n2\r\n00:00:02,000 --> 00:00:03,000\r\n"
                 "[Bob] Hello.\r\n", [("Ann", "Hi?"), ("Bob", "Hello.")], id="srt_crlf_missing_blank_line_brackets"),
    pytest.param("a.txt", "[00:00:01] Ann: Hi?\nBob (00:00:05): Hello.\nThe key components: encoder and decoder.\n"
                 "Ann: Good?\nBob: Yes.\n", [("Ann", "Hi?"), ("Bob", "Hello. The key components: encoder and decoder."),
                 ("Ann", "Good?"), ("Bob", "Yes.")], id="text_timestamps_and_a_colon_inside_an_answer"),
    pytest.param("a.md", "# Title\n\n**Ann:** Hi?\n\n**Bob**: Hello.\n\n- **Ann:** Bye?\n\n## Notes\nnot an answer\n",
                 [("Ann", "Hi?"), ("Bob", "Hello."), ("Ann", "Bye?")], id="markdown_bold_both_styles_heading_ends"),
    pytest.param("a.txt", "Speaker 1  0:03\nHi there?\n\nSpeaker 2  0:07\nHello,\nsecond line.\n",
                 [("Speaker 1", "Hi there?"), ("Speaker 2", "Hello, second line.")], id="otter_headers"),
    pytest.param("a.json", '[{"speaker": "Ann", "text": "Hi?", "start": 1.0}, {"speaker": "Bob", "text": "Hey."}]',
                 [("Ann", "Hi?"), ("Bob", "Hey.")], id="json_list"),
    pytest.param("a.json", '{"meta": {"x": [1, 2]}, "turns": [{"speaker": "Ann", "text": "Hi?"}, '
                 '{"speaker": "Ann", "text": "Still there?"}, {"speaker": 7, "text": 8}]}',
                 [("Ann", "Hi? Still there?"), ("7", "8")], id="json_object_turns_merged_numbers"),
    pytest.param("a.jsonl", '{"speaker": "Ann", "text": "Hi?"}\n{"speaker": "Bob", "text": "Hey."}\n',
                 [("Ann", "Hi?"), ("Bob", "Hey.")], id="jsonl_turns"),
    pytest.param("a.txt", "\ufeffAnn: Hi?\nBob: Hey.\n", [("Ann", "Hi?"), ("Bob", "Hey.")], id="utf8_bom"),
    pytest.param("a.txt", "Ann: Hi?\nBob: Hey.\n".encode("utf-16"), [("Ann", "Hi?"), ("Bob", "Hey.")], id="utf16_bom"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "expected"), PARSED)
def test_parsers(tmp_path: Path, name: str, text: str | bytes, expected: list[tuple[str, str]]) -> None:
    path = write(tmp_path, name, text)
    assert [(t.speaker, t.text) for t in parse_turns(path)] == expected


ERRORS = [
    pytest.param("a.vtt", "00:00:01.000 --> 00:00:02.000\nAnn: Hi\n", ":1: not WebVTT", id="vtt_without_header"),
    pytest.param("a.vtt", "WEBVTT\n\n1\n00:00:01 --> 00:00:02\nAnn: Hi\n", ":4: bad cue timing", id="vtt_bad_timing"),
    pytest.param("a.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAnn: Hi\n\nan id\nno timing\n",
                 ":6: expected a cue timing line", id="vtt_cue_without_timing"),
    pytest.param("a.srt", "1\n00:00:01,000 -> 00:00:02,000\nAnn: Hi\n", ":1: expected a cue timing",
                 id="srt_bad_arrow"),
    pytest.param("a.json", '[{"speaker": "Ann", "text": "Hi"},\n {"speaker": "Bob", "text": }]', ":2: invalid JSON",
                 id="json_syntax_error_line"),
    pytest.param("a.json", '[{"speaker": "Ann"}]', ":1: missing 'text'", id="json_missing_text"),
    pytest.param("a.json", '[{"speaker": "Ann", "text": ["a"]}]', "'text' must be text", id="json_text_not_string"),
    pytest.param("a.json", '["just a string"]', "turn 1 is not an object", id="json_turn_not_object"),
    pytest.param("a.json", '{"title": "x"}', "a list of turns or an object with a 'turns' list", id="json_no_turns"),
    pytest.param("a.json", '[{"speaker": "Ann", "text": "Hi"}', "invalid JSON", id="json_truncated"),
    pytest.param("a.txt", "just some prose with no speakers at all\n", ":1: no speaker labels", id="text_no_labels"),
    pytest.param("a.txt", "", ":1: no speaker labels", id="empty_file"),
    pytest.param("a.txt", b"Ann: hi\n\x00\x01\x02", ":2: binary file", id="binary"),
    pytest.param("a.txt", b"Ann: hi\nBob: caf\xe9\n", ":2: not UTF-8", id="latin1_byte"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "message"), ERRORS)
def test_unparseable_input_names_file_and_line(tmp_path: Path, name: str, text: str | bytes, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError) as caught:
        list(parse_turns(path))
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_huge_answer_is_capped_and_marked_truncated(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "Ann: What is a GAN?\nBob: " + "word " * 60_000 + "\nAnn: Thanks?\nBob: Sure.\n")
    parsed = list(parse_turns(path))
    assert len(parsed[1].text) <= MAX_TURN_CHARS and parsed[1].truncated
    assert [t.speaker for t in parsed] == ["Ann", "Bob", "Ann", "Bob"]


def test_minified_json_longer_than_a_line_piece_streams(tmp_path: Path) -> None:
    turns_ = [{"speaker": "Ann" if i % 2 == 0 else "Bob", "text": f"turn {i} " + "x" * 500} for i in range(400)]
    path = write(tmp_path, "big.json", json.dumps({"turns": turns_}))  # one 200 kB line
    parsed = list(parse_turns(path))
    assert len(parsed) == 400 and parsed[399].text.startswith("turn 399")


def test_a_missing_input_is_a_one_line_error(tmp_path: Path, matcher: QuestionMatcher) -> None:
    with pytest.raises(InputError, match="no such file"):
        plan_inputs([tmp_path / "nope.vtt"], matcher.match, {"q01"})


# --- answer tables -------------------------------------------------------------------------------------------


def test_jsonl_and_csv_tables(tmp_path: Path, matcher: QuestionMatcher) -> None:
    jsonl = write(
        tmp_path,
        "a.jsonl",
        '{"question_id": "q05", "answer": "A VAE ...", "candidate": "Kim"}\n\n'
        '{"question": "Walk me through training a GAN and what goes wrong", "answer": "You alternate ..."}\n',
    )
    csv_ = write(tmp_path, "b.csv", 'Question_ID,answer,candidate,notes\nq09,"The KL term,\nover two lines",Lee,x\n')
    plan = plan_inputs([jsonl, csv_], matcher.match, {"q05", "q07", "q09"})
    assert [(i.question_id, i.candidate, i.line) for i in plan.items] == [("q05", "Kim", 1), ("q07", None, 3),
                                                                           ("q09", "Lee", 2)]  # fmt: skip
    assert plan.items[2].answer == "The KL term,\nover two lines"
    assert len({i.item_id for i in plan.items}) == 3


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        pytest.param("a.jsonl", '{"question_id": "q05"}\n', ":1: missing 'answer'", id="no_answer"),
        pytest.param("a.jsonl", '{"answer": "x"}\n', ":1: missing 'question_id'", id="no_question"),
        pytest.param("a.jsonl", '{"question_id": "q05", "answer": "x"}\n{"question_id": "q05", "answer": \n',
                     ":2: invalid JSON", id="bad_json_line"),
        pytest.param("a.csv", "id,text\n1,x\n", ":1: the header needs 'answer' and 'question_id'", id="csv_header"),
        pytest.param("a.csv", "question_id,answer\nq05,x,extra\n", ":2: more fields than the header",
                     id="csv_extra_field"),
    ],
)  # fmt: skip
def test_bad_tables_name_file_and_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(TranscriptError, match=message):
        list(parse_table(path))


def test_an_unknown_question_id_in_a_table_is_an_error(tmp_path: Path, matcher: QuestionMatcher) -> None:
    path = write(tmp_path, "a.jsonl", '{"question_id": "q99", "answer": "x"}\n')
    with pytest.raises(InputError, match=r"a.jsonl:1: no question 'q99' in the bank"):
        plan_inputs([path], matcher.match, {"q05"})


def test_an_unpunctuated_bank_question_with_a_short_reply_is_not_folded_into_the_answer_before(
    tmp_path: Path, matcher: QuestionMatcher
) -> None:
    """Raw ASR, no "?": a short or keyword reply must not carry a bank question into the previous answer."""
    path = tmp_path / "asr.txt"
    path.write_text(
        "Dana: so um what are some techniques to ensure reproducibility in generative ai research\n"
        "Sam: I would fix the random seeds, pin the library versions and log every config and dataset hash, then "
        "report the mean and spread over several seeds rather than one lucky run.\n"
        "Dana: okay next one how does a variational autoencoder differ from a gan\n"
        "Sam: encoder decoder latent space KL term versus generator discriminator\n",
        encoding="utf-8",
    )
    interview = read_interview(path, matcher.match)
    by_id = {a.question_id: a for a in interview.answers}
    assert set(by_id) == {"q33", "q05"}, [(a.question_id, a.asked) for a in interview.answers]
    assert "generator discriminator" in by_id["q05"].answer
    assert "generator discriminator" not in by_id["q33"].answer
