"""The question bank: its folder, questions, rubrics, prompt templates, graded answers; lint and audit."""
