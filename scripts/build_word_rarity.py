"""Rebuild grader/judges/word_rarity.json: how rare each word is in this field's talk and in general text.

The offline judge weighs a key point's words by rarity, so that "data", "model" and "training" earn little and
"reparameterisation" or "discriminator" carry the point. Rarity is the smaller of two normalised IDFs:
across the shipped bank's 50 rubrics (each rubric one document: words every topic uses are common) and across a
general sample of students' short answers (SAF `train` only, another field: plain English is common). Only words common
somewhere are stored; every other word counts as fully rare (1.0).

    python scripts/build_word_rarity.py [--saf /work/shared/data/saf_en.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

from grader.bank import Bank
from grader.bank.questions import load_questions
from grader.bank.rubrics import load_rubric
from grader.text.textsim import tokens

OUT = Path(__file__).resolve().parent.parent / "grader" / "judges" / "word_rarity.json"
KEEP_BELOW = 0.9


def rubric_documents(bank: Bank) -> list[set[str]]:
    docs = []
    for question in load_questions(bank):
        rubric = load_rubric(bank, question.id).rubric
        parts = [question.question, rubric.reference_answer, *rubric.misconceptions, *rubric.red_flags]
        for c in rubric.criteria:
            parts += [c.description, *c.levels, *c.key_points]
        parts += [e.answer for e in rubric.exemplars]
        docs.append(set(tokens(" ".join(parts))))
    return docs


def saf_documents(path: Path) -> list[set[str]]:
    docs = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row.get("split") == "train":  # the test splits measure the judge: they must not shape it
                docs.append(set(tokens(row["answer"])))
    return docs


def normalised_idf(docs: list[set[str]]) -> dict[str, float]:
    frequency: Counter[str] = Counter()
    for doc in docs:
        frequency.update(doc)
    top = math.log(len(docs) + 1)
    return {w: math.log((len(docs) + 1) / (df + 1)) / top for w, df in frequency.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--saf", type=Path, default=Path("/work/shared/data/saf_en.jsonl"))
    args = parser.parse_args()
    field = normalised_idf(rubric_documents(Bank.open(None)))
    general = normalised_idf(saf_documents(args.saf))
    rarity = {w: min(field.get(w, 1.0), general.get(w, 1.0)) for w in field.keys() | general.keys()}
    kept = {w: round(r, 3) for w, r in sorted(rarity.items()) if r < KEEP_BELOW}
    OUT.write_text(json.dumps(kept, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(kept)} words below {KEEP_BELOW}")


if __name__ == "__main__":
    main()
