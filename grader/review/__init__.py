"""`grader review DIR`: a local web page where a panel confirms or corrects the grades of a batch.

- `store`: the batch as the page sees it (results.jsonl + rubrics, read only) and `reviews.jsonl` (append-only).
- `agreement`: grader versus reviewers and reviewer versus reviewer, per criterion and total.
- `server`: the Starlette app (page, static assets, JSON API) with its guards: token, Host, Origin, POST only.
- `to_bank`: reviewed answers into the bank's graded answers, screened.
- `cli`: the typer command.
"""
