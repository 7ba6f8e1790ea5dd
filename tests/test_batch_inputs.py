"""A folder as people have it: good transcripts next to a PDF, a DOCX, a cp1252 file, a README and a CSV.

Every gradable file is graded in one run; every other file is listed with its reason; `..` and dot-folders
are handled; `--strict` turns a skipped file into exit 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from documents import write_docx, write_pdf
from spoken import conversations, render
from typer.testing import CliRunner

from grader.cli import app

OFFLINE = {"OPENAI_API_KEY": "", "GRADER_BACKEND": "offline", "GRADER_NO_CACHE": "1"}


def mixed_folder(root: Path) -> dict[str, Any]:
    maya, arjun, sara, kevin = conversations()[:4]
    folder = root / "transcripts"
    (folder / ".obsidian").mkdir(parents=True)
    (folder / "older").mkdir()
    (folder / "maya.vtt").write_text(render(maya, "teams.vtt"), encoding="utf-8")
    (folder / "older" / "arjun.txt").write_text(render(arjun, "meet.txt"), encoding="utf-8")
    lines = [f"{who}: {text}" for who, text in sara["turns"]]
    write_pdf(folder / "sara.pdf", lines)
    write_docx(folder / "kevin.docx", render(kevin, "notetaker.txt").splitlines())
    cp1252 = render(maya, "zoom.vtt").replace("'", "’").replace("Maya Chen", "Zoë Müller")
    (folder / "zoe_cp1252.vtt").write_bytes(cp1252.encode("cp1252"))
    (folder / "README.md").write_text("# Interviews\n\nTranscripts from the spring round.\n", encoding="utf-8")
    (folder / "scores.csv").write_text("name,score\nMaya,7\n", encoding="utf-8")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (folder / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (folder / ".obsidian" / "copy.vtt").write_text(render(maya, "teams.vtt"), encoding="utf-8")
    return {"folder": folder, "expect": {"maya": maya, "arjun": arjun, "sara": sara, "kevin": kevin}}


def test_a_mixed_folder_grades_every_gradable_file_and_lists_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = mixed_folder(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(app, ["batch", "../transcripts", "--out", "out", "--no-progress"], env=OFFLINE)
    assert result.exit_code == 0, result.stderr
    summary = json.loads((work / "out" / "summary.json").read_text(encoding="utf-8"))
    graded = {Path(t["transcript"]).name: sorted(t["questions"]) for t in summary["transcripts"]}
    expect = made["expect"]
    assert graded == {
        "kevin.docx": sorted(expect["kevin"]["expect"]),
        "maya.vtt": sorted(expect["maya"]["expect"]),
        "arjun.txt": sorted(expect["arjun"]["expect"]),
        "sara.pdf": sorted(expect["sara"]["expect"]),
        "zoe_cp1252.vtt": sorted(expect["maya"]["expect"]),
    }
    skipped = {Path(s["file"]).name: s["reason"] for s in summary["skipped"]}
    assert set(skipped) == {"README.md", "scores.csv", "scan.pdf", "old.doc", ".obsidian"}
    assert "no speaker labels" in skipped["README.md"]
    assert "'answer' and 'question_id'" in skipped["scores.csv"]
    assert "export the transcript as .txt" in skipped["scan.pdf"] and "export" in skipped["old.doc"]
    for name in skipped:
        assert f"skipped ../transcripts/{name}" in result.stderr
    assert "zoe_cp1252.vtt: not UTF-8; read it as windows-1252" in result.stderr
    assert summary["graded"] == sum(len(v) for v in graded.values())


def test_strict_makes_a_skipped_file_exit_1(tmp_path: Path) -> None:
    made = mixed_folder(tmp_path)
    result = CliRunner().invoke(
        app, ["batch", str(made["folder"]), "--out", str(tmp_path / "o"), "--no-progress", "--strict"], env=OFFLINE
    )
    assert result.exit_code == 1 and "file(s) skipped (--strict)" in result.stderr


def test_a_given_encoding_is_used_and_a_bad_one_refused(tmp_path: Path) -> None:
    maya = conversations()[0]
    path = tmp_path / "maya.txt"
    path.write_bytes(render(maya, "meet.txt").replace("'", "’").encode("cp1252"))
    ok = CliRunner().invoke(
        app, ["batch", str(path), "--out", str(tmp_path / "o"), "--dry-run", "--encoding", "cp1252"], env=OFFLINE
    )
    assert ok.exit_code == 0 and "read it as cp1252" in ok.stderr
    bad = CliRunner().invoke(app, ["batch", str(path), "--out", str(tmp_path / "o"), "--encoding", "nope"], env=OFFLINE)
    assert bad.exit_code == 2 and "not an encoding" in bad.stderr


def test_a_transcript_with_no_answer_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text("Ann: Can you hear me?\nBob: Yes, loud and clear.\nAnn: Great, thanks for joining.\n", "utf-8")
    result = CliRunner().invoke(app, ["batch", str(path), "--out", str(tmp_path / "o"), "--no-progress"], env=OFFLINE)
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "no answer to a bank question" in result.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["warnings"] and summary["transcripts"][0]["coverage"]["candidate_words"] == 4


def test_candidates_are_ranked_and_exported_one_row_per_candidate_and_question(tmp_path: Path) -> None:
    import csv

    paths = []
    for conversation in conversations()[:3]:
        path = tmp_path / f"{conversation['name']}.vtt"
        path.write_text(render(conversation, "zoom.vtt"), encoding="utf-8")
        paths.append(str(path))
    out, sheet = tmp_path / "out", tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["batch", *paths, "--out", str(out), "--csv", str(sheet), "--no-progress"],
                                env=OFFLINE)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    ranked = summary["ranking"]["candidates"]
    assert [r["rank"] for r in ranked] == [1, 2, 3] or sorted(r["rank"] for r in ranked)[0] == 1
    assert [r["pct"] for r in ranked] == sorted((r["pct"] for r in ranked), reverse=True)
    assert {r["candidate"] for r in ranked} == {"Maya Chen", "Arjun Nair", "Sara Lopez"}
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    assert len(rows) == summary["answers"] == sum(len(c["expect"]) for c in conversations()[:3])
    assert {"candidate", "question_id", "score", "max_score", "pct"} <= set(rows[0])
    assert "## Ranking" in (out / "report.md").read_text(encoding="utf-8")
    assert 'id="ranking"' in (out / "report.html").read_text(encoding="utf-8")


def test_a_dot_folder_given_by_name_is_read(tmp_path: Path) -> None:
    folder = tmp_path / ".exports"
    folder.mkdir()
    (folder / "maya.vtt").write_text(render(conversations()[0], "teams.vtt"), encoding="utf-8")
    result = CliRunner().invoke(app, ["batch", str(folder), "--out", str(tmp_path / "o"), "--dry-run", "--format",
                                      "json"], env=OFFLINE)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answers"] == len(conversations()[0]["expect"]) and data["skipped"] == []


def test_a_teams_docx_with_timing_lines_and_names_on_their_own_lines_is_read(tmp_path: Path) -> None:
    from grader.transcripts.documents import docx_text

    maya = conversations()[0]
    paragraphs = []
    for n, (who, text) in enumerate(maya["turns"]):
        paragraphs += [f"0:{n // 3}:{n * 20 % 60}.0 --> 0:{n // 3}:{n * 20 % 60 + 19}.500", who, text, ""]
    path = tmp_path / "teams.docx"
    write_docx(path, paragraphs)
    assert docx_text(path).splitlines()[0] == f"{maya['turns'][0][0]}: {maya['turns'][0][1]}"
    result = CliRunner().invoke(app, ["batch", str(path), "--out", str(tmp_path / "o"), "--dry-run", "--format",
                                      "json"], env=OFFLINE)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    questions = [q["question_id"] for q in json.loads(result.stdout)["plan"][0]["questions"] if q["question_id"]]
    assert sorted(questions) == sorted(maya["expect"])
