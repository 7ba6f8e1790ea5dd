"""Hostile banks: a question bank is code-adjacent input (templates, YAML, paths) that may come from anyone.

A bank must never run code, read outside its folder, or crash the grader: templates render in Jinja's
sandbox, YAML loads safely (no Python tags, no alias bombs), no path in a bank leads out of it, and every
refusal is one line ("Error: ...", exit 1) naming the file. Each case goes through `grader grade` (offline
for rubric and path cases; a fake server for template cases, since only the LLM judge renders prompts).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from fakeserver import FakeOpenAIServer
from typer.testing import CliRunner

from grader.cli import app

REPO = Path(__file__).resolve().parent.parent
ANSWER = "A VAE has an encoder and a decoder; a GAN has a generator and a discriminator."


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    """A copy of the shipped bank with q05's rubric and the shipped templates."""
    root = tmp_path / "bank"
    (root / "rubrics").mkdir(parents=True)
    shutil.copy(REPO / "questions.yaml", root / "questions.yaml")
    shutil.copy(REPO / "rubrics" / "q05.yaml", root / "rubrics" / "q05.yaml")
    shutil.copytree(REPO / "prompts", root / "prompts")
    return root


def grade(bank: Path, *extra: str, question: str = "q05") -> tuple[int, str, str]:
    args = ["grade", question, "--answer", ANSWER, "--bank", str(bank), "--no-cache", *extra]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def grade_llm(bank: Path, server: FakeOpenAIServer) -> tuple[int, str, str]:
    return grade(bank, "--base-url", server.url, "--timeout", "5")


def assert_refused(code: int, stderr: str, *needles: str) -> None:
    assert code == 1, stderr
    assert "Traceback" not in stderr
    error_lines = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(error_lines) == 1, stderr
    for needle in needles:
        assert needle in error_lines[0]


# --- templates: the sandbox -------------------------------------------------------------------------------

ESCAPES = [
    pytest.param("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe", id="mro_subclasses"),
    pytest.param("{{ question.__class__.__init__.__globals__ }}", "unsafe", id="model_globals"),
    pytest.param("{{ cycler.__init__.__globals__.os.environ }}", "unsafe", id="cycler_os_environ"),
    pytest.param("{{ lipsum.__globals__['os'].popen('id').read() }}", "unsafe", id="lipsum_popen"),
    pytest.param(
        "{{ joiner.__init__.__globals__.__builtins__.open('/etc/passwd').read() }}", "unsafe", id="builtins_open"
    ),  # fmt: skip
    pytest.param("{{ self._TemplateReference__context }}", "unsafe", id="self_context"),
    pytest.param("{{ rubric.__dict__ }}", "unsafe", id="model_dict"),
    pytest.param("{{ rubric.criteria.__class__ }}", "unsafe", id="list_class"),
    pytest.param('{{ "{0.__class__.__init__.__globals__}".format(rubric) }}', "unsafe", id="str_format"),
    pytest.param("{{ '%s'.__mod__(rubric) }}", "unsafe", id="percent_format_dunder"),
    pytest.param("{{ environ }}", "undefined", id="environ_undefined"),
    pytest.param("{{ os }}", "undefined", id="os_undefined"),
    pytest.param("{{ config }}", "undefined", id="flask_config_undefined"),
    pytest.param("{{ answer }}", "undefined", id="answer_is_not_a_template_variable"),
    pytest.param("{{ range(10**9) | list }}", "", id="huge_range"),
    pytest.param("{{ 'x' * 10**9 }}", "", id="string_multiplication_bomb"),
    pytest.param("{{ [0] * 10**9 }}", "", id="list_multiplication_bomb"),
    pytest.param("{% include '/etc/passwd' %}", "", id="include_absolute"),
    pytest.param("{% include '../../../../etc/passwd' %}", "", id="include_dotdot"),
    pytest.param("{% include '/dev/zero' %}", "", id="include_dev_zero"),
    pytest.param("{% import '../questions.yaml' as q %}", "", id="import_outside"),
    pytest.param("{% extends '/etc/hostname' %}", "", id="extends_outside"),
    pytest.param("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "", id="infinite_recursion"),
]


@pytest.mark.parametrize(("payload", "needle"), ESCAPES)
def test_template_escapes_are_refused(bank: Path, fake_server: FakeOpenAIServer, payload: str, needle: str) -> None:
    user = bank / "prompts" / "grade.user.j2"
    user.write_text(payload + "\n" + user.read_text())
    started = time.perf_counter()
    code, stdout, stderr = grade_llm(bank, fake_server)
    assert time.perf_counter() - started < 30
    assert_refused(code, stderr, "prompts", needle)
    assert fake_server.requests == []  # refused before anything was sent
    assert "root:" not in stdout + stderr


def test_rendering_sees_no_environment(
    bank: Path, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-template-0123456789")
    system = bank / "prompts" / "grade.system.j2"
    system.write_text(system.read_text() + "\n{{ question | string }} {{ rubric | string }} {{ points | string }}")
    code, _, stderr = grade_llm(bank, fake_server)
    assert code == 0, stderr
    assert "sk-canary-template" not in str(fake_server.requests)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        pytest.param(lambda s: s.replace("{{ answer_block }}", ""), "exactly once (found 0)", id="no_answer_block"),
        pytest.param(lambda s: s + "\n{{ answer_block }}", "exactly once (found 2)", id="answer_block_twice"),
        pytest.param(
            lambda s: s.replace("{{ answer_block }}", "{{ answer_block | lower }}"),
            "exactly once",
            id="answer_block_filtered",
        ),  # fmt: skip
        pytest.param(lambda s: s + "{% if %}", "grade.user.j2:", id="syntax_error"),
        pytest.param(lambda s: s + "x" * 300_000, "larger than", id="huge_template"),
    ],
)
def test_broken_templates_are_one_line_errors(bank: Path, fake_server: FakeOpenAIServer, edit, needle: str) -> None:  # type: ignore[no-untyped-def]
    user = bank / "prompts" / "grade.user.j2"
    user.write_text(edit(user.read_text()))
    code, _, stderr = grade_llm(bank, fake_server)
    assert_refused(code, stderr, needle)
    assert fake_server.requests == []


def test_a_bank_without_prompts_uses_the_shipped_templates(bank: Path, fake_server: FakeOpenAIServer) -> None:
    shutil.rmtree(bank / "prompts")
    code, _, stderr = grade_llm(bank, fake_server)
    assert code == 0, stderr


# --- YAML: safe loading ---------------------------------------------------------------------------------

PYTHON_TAGS = [
    pytest.param("!!python/object/apply:os.system ['touch {marker}']", id="object_apply_os_system"),
    pytest.param("!!python/object/new:subprocess.Popen [['touch', '{marker}']]", id="object_new_popen"),
    pytest.param("!!python/name:os.system", id="python_name"),
    pytest.param("!!python/module:os", id="python_module"),
    pytest.param("!!binary aGVsbG8=", id="binary"),
]


@pytest.mark.parametrize("tagged", PYTHON_TAGS)
@pytest.mark.parametrize("where", ["rubric", "questions"])
def test_python_yaml_tags_never_run(bank: Path, tmp_path: Path, tagged: str, where: str) -> None:
    marker = tmp_path / "pwned"
    value = tagged.format(marker=marker)
    if where == "rubric":
        path = bank / "rubrics" / "q05.yaml"
        path.write_text(path.read_text().replace("max_score: 10", f"max_score: {value}", 1))
    else:
        path = bank / "questions.yaml"
        path.write_text(path.read_text().replace("- id: q01", f"- id: {value}", 1))
    code, _, stderr = grade(bank, "--backend", "offline")
    assert_refused(code, stderr, path.name)
    assert not marker.exists()


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda text: billion_laughs() + f"\nreference_answer: *a9\n{text}", id="billion_laughs_field"),
        pytest.param(
            lambda text: billion_laughs() + "\n" + text.replace("tags:", "tags: *a9\nold_tags:", 1),
            id="billion_laughs_list_field",
        ),  # fmt: skip
        pytest.param(lambda text: "x: " + "[" * 1500 + "]" * 1500 + "\n" + text, id="deep_nesting"),
        pytest.param(lambda text: text + "\n" + "# padding\n" * 250_000, id="over_the_size_limit"),
        pytest.param(lambda text: text.replace("max_score: 10", "max_score: .inf", 1), id="infinite_score"),
        pytest.param(lambda text: text.replace("weight: 2", "weight: .nan", 1), id="nan_weight"),
        pytest.param(
            lambda text: text.replace("question_id: q05", "question_id: q05\nquestion_id: q06", 1), id="duplicate_key"
        ),  # fmt: skip
        pytest.param(lambda text: text.encode("utf-16"), id="not_utf8"),
        pytest.param(lambda text: "? [1, 2]\n: x\n" + text, id="list_as_a_key"),
        pytest.param(lambda text: "&a {x: 1}\n" + text.replace("tags:", "<<: *a\ntags:", 1), id="merge_key"),
        pytest.param(lambda text: "---\n" + text + "\n---\n" + text, id="two_documents"),
    ],
)
def test_hostile_rubric_yaml_is_a_one_line_error(bank: Path, make) -> None:  # type: ignore[no-untyped-def]
    path = bank / "rubrics" / "q05.yaml"
    content = make(path.read_text())
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    started = time.perf_counter()
    code, _, stderr = grade(bank, "--backend", "offline")
    assert time.perf_counter() - started < 20, "a YAML bomb went off"
    assert_refused(code, stderr, "q05.yaml")


def test_billion_laughs_in_questions_yaml(bank: Path) -> None:
    path = bank / "questions.yaml"
    path.write_text(billion_laughs() + "\n" + path.read_text().replace("- id: q01", "- id: q01\n  extra: *a9", 1))
    started = time.perf_counter()
    code, _, stderr = grade(bank, "--backend", "offline")
    assert time.perf_counter() - started < 20
    assert_refused(code, stderr, "questions.yaml")


def test_lint_survives_a_yaml_bomb(bank: Path) -> None:
    path = bank / "rubrics" / "q05.yaml"
    path.write_text(billion_laughs() + "\nreference_answer: *a9\n" + path.read_text())
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["rubric", "lint", str(path), "--allow-missing", "--bank", str(bank)],
                                catch_exceptions=False)  # fmt: skip
    assert time.perf_counter() - started < 20
    assert result.exit_code == 1 and "Traceback" not in result.stderr + result.stdout


# --- paths: nothing leads out of the bank ------------------------------------------------------------------


def test_symlinked_rubric_outside_is_refused(bank: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("question_id: q05\n")
    (bank / "rubrics" / "q05.yaml").unlink()
    os.symlink(outside, bank / "rubrics" / "q05.yaml")
    code, _, stderr = grade(bank, "--backend", "offline")
    assert_refused(code, stderr, "leaves the bank")


def test_symlinked_rubrics_folder_outside_is_refused(bank: Path, tmp_path: Path) -> None:
    shutil.move(bank / "rubrics", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", bank / "rubrics")
    code, _, stderr = grade(bank, "--backend", "offline")
    assert_refused(code, stderr, "leaves the bank")


def test_symlinked_questions_outside_is_refused(bank: Path, tmp_path: Path) -> None:
    shutil.move(bank / "questions.yaml", tmp_path / "questions.yaml")
    os.symlink(tmp_path / "questions.yaml", bank / "questions.yaml")
    code, _, stderr = grade(bank, "--backend", "offline")
    assert_refused(code, stderr, "leaves the bank")


def test_symlinked_prompts_folder_outside_is_refused(bank: Path, tmp_path: Path, fake_server: FakeOpenAIServer) -> None:
    shutil.move(bank / "prompts", tmp_path / "prompts")
    os.symlink(tmp_path / "prompts", bank / "prompts")
    code, _, stderr = grade_llm(bank, fake_server)
    assert_refused(code, stderr, "leaves the bank")


def test_symlinked_template_outside_is_refused(bank: Path, tmp_path: Path, fake_server: FakeOpenAIServer) -> None:
    outside = tmp_path / "evil.j2"
    outside.write_text("{{ answer_block }} from outside")
    (bank / "prompts" / "grade.user.j2").unlink()
    os.symlink(outside, bank / "prompts" / "grade.user.j2")
    code, _, stderr = grade_llm(bank, fake_server)
    assert_refused(code, stderr, "grade.user.j2")
    assert fake_server.requests == []


def test_link_inside_the_bank_is_fine(bank: Path) -> None:
    shutil.move(bank / "rubrics" / "q05.yaml", bank / "q05-source.yaml")
    os.symlink(bank / "q05-source.yaml", bank / "rubrics" / "q05.yaml")
    code, _, stderr = grade(bank, "--backend", "offline")
    assert code == 0, stderr


@pytest.mark.parametrize(
    "question_id",
    ["../questions", "../../etc/passwd", "/etc/passwd", "q05/../../x", "q05\x00", "Q05", "q05.yaml", "q5"],
)
def test_question_ids_cannot_name_paths(bank: Path, question_id: str) -> None:
    code, _, stderr = grade(bank, "--backend", "offline", question=question_id)
    assert_refused(code, stderr)


def test_bank_that_is_a_file_or_missing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for where in (tmp_path / "file", tmp_path / "missing"):
        code, _, stderr = grade(where, "--backend", "offline")
        assert_refused(code, stderr, str(where))
