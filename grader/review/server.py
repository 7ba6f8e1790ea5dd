"""The review server: one page, two static assets and a small JSON API, behind four guards.

Guards, each for an attack (tests/test_review_api.py tries every one):
- the token: every request carries `?token=` (a secret printed once on the terminal); without it, 403 on
  every route, the page and static assets included, so another local user or a web page cannot read answers;
- the Host header must name the loopback address and port we listen on, so a DNS-rebinding page (evil.example
  resolving to 127.0.0.1) is refused even before the token is checked;
- state changes only by POST with a JSON body, and a POST from another origin (Origin or Sec-Fetch-Site) is
  refused, so a cross-site form cannot save a review;
- nothing in a request names a file: static assets are a fixed table read at start, answers are looked up by id.
Candidate text reaches the page only as JSON that the script puts into text nodes; the page's
Content-Security-Policy allows no inline script, no image and no other origin, a second wall if that ever failed.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from grader.review._grader import InputError
from grader.review.agreement import agreement
from grader.review.highlight import highlight_spans
from grader.review.store import FLAG_MEANINGS, Answer, Batch, ReviewError, ReviewLog, latest_reviews, review_record

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}


def new_token() -> str:
    """A fresh random token (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass
class ReviewSession:
    """What one server serves: the batch, who reviews, and how."""

    batch: Batch
    reviewer: str
    blind: bool = False
    token: str = field(default_factory=new_token)

    def __post_init__(self) -> None:
        self.log = ReviewLog(self.batch.folder)


def _assets() -> dict[str, bytes]:
    package = resources.files("grader.review")
    assets = {name: (package / "static" / name).read_bytes() for name in STATIC}
    assets["page.html"] = (package / "static" / "page.html").read_bytes()
    return assets


class Guard:
    """ASGI middleware: Host, token, method and origin checks before any route runs, headers on every reply."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str]) -> None:
        """Wrap `app`; `hosts` are the accepted Host header values (loopback name or address, with our port)."""
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request or pass it on."""
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [""])[0]
        refusal = None
        if headers.get("host", "") not in self.hosts:
            refusal = (403, "forbidden: unexpected Host header")
        elif not secrets.compare_digest(given.encode(), self.token.encode()):
            refusal = (403, "forbidden: missing or wrong token")
        elif scope["method"] not in ("GET", "HEAD", "POST"):
            refusal = (405, "method not allowed")
        elif scope["method"] == "POST":
            origin = headers.get("origin")
            site = headers.get("sec-fetch-site")
            if origin is not None and origin not in {f"http://{h}" for h in self.hosts}:
                refusal = (403, "forbidden: cross-origin request")
            elif site is not None and site not in ("same-origin", "none"):
                refusal = (403, "forbidden: cross-site request")
            elif headers.get("content-type", "").split(";")[0].strip() != "application/json":
                refusal = (415, "send JSON (Content-Type: application/json)")
        if refusal is not None:
            response = JSONResponse({"error": refusal[1]}, status_code=refusal[0], headers=SECURITY_HEADERS)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(session: ReviewSession, port: int) -> ASGIApp:
    """The review app for a session, accepting Host headers of 127.0.0.1 and localhost at `port`."""
    assets = _assets()
    page = assets["page.html"].decode("utf-8")

    def with_token(html: str) -> str:
        return html.replace("{{TOKEN}}", session.token)  # URL-safe base64: nothing to escape

    async def index(request: Request) -> Response:
        return Response(with_token(page), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(assets[name], media_type=STATIC[name])

    def latest() -> dict[str, dict[str, Mapping[str, Any]]]:
        return latest_reviews(session.batch, session.log.read())

    def mine(found: Mapping[str, Mapping[str, Any]], answer: Answer) -> Mapping[str, Any] | None:
        return found.get(answer.answer_id, {}).get(session.reviewer)

    def hidden(found: Mapping[str, Mapping[str, Any]], answer: Answer) -> bool:
        return session.blind and mine(found, answer) is None

    async def session_info(request: Request) -> Response:
        return JSONResponse({"reviewer": session.reviewer, "blind": session.blind, "batch": session.batch.folder.name,
                             "answers": len(session.batch.answers)})  # fmt: skip

    async def answers(request: Request) -> Response:
        found = latest()
        return JSONResponse([summary_json(a, found, hidden(found, a), mine(found, a)) for a in session.batch.answers])

    async def answer(request: Request) -> Response:
        try:
            chosen = session.batch.get(request.path_params["answer_id"])
        except ReviewError as exc:
            return JSONResponse({"error": str(exc), "field": exc.field}, status_code=404)
        found = latest()
        position = session.batch.answers.index(chosen)
        return JSONResponse(detail_json(chosen, found, hidden(found, chosen), mine(found, chosen), position))

    async def reviews(request: Request) -> Response:
        body = await _read_body(request)
        try:
            if body is None:
                raise ReviewError("body", f"expected a JSON object of at most {MAX_BODY_BYTES} bytes")
            chosen = session.batch.get(body.get("answer_id"))
            record = review_record(chosen, session.reviewer, body.get("levels"), body.get("note"))
        except ReviewError as exc:
            return JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
        session.log.append(record)
        found = latest()
        return JSONResponse({"review": record, "next_answer_id": _next(session, chosen, found),
                             "grader_levels": chosen.grader_levels, "grader_score": chosen.score})  # fmt: skip

    async def agreement_view(request: Request) -> Response:
        return JSONResponse(agreement(session.batch, latest()))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/api/session", session_info, methods=["GET"]),
        Route("/api/answers", answers, methods=["GET"]),
        Route("/api/answers/{answer_id}", answer, methods=["GET"]),
        Route("/api/reviews", reviews, methods=["POST"]),
        Route("/api/agreement", agreement_view, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    return Guard(app, session.token, hosts)


async def _read_body(request: Request) -> dict[str, Any] | None:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _next(session: ReviewSession, current: Answer, found: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The next answer in queue order, after `current` and wrapping round, that this reviewer has not reviewed."""
    order = session.batch.answers
    start = order.index(current)
    for answer in order[start + 1 :] + order[:start]:
        if session.reviewer not in found.get(answer.answer_id, {}):
            return answer.answer_id
    return None


def summary_json(
    answer: Answer, found: Mapping[str, Mapping[str, Any]], hide: bool, own: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One entry of GET /api/answers (the grader's score and levels are null while blind)."""
    return {
        "answer_id": answer.answer_id,
        "question_id": answer.question_id,
        "question": answer.question,
        "transcript": answer.transcript,
        "candidate": answer.candidate,
        "score": None if hide else answer.score,
        "max_score": answer.max_score,
        "levels": None if hide else answer.grader_levels,
        "needs_review": answer.needs_review,
        "review_reasons": answer.reasons,
        "flags": answer.flags,
        "status": answer.status,
        "reviews": len(found.get(answer.answer_id, {})),
        "my_review": None if own is None else {"levels": own.get("levels"), "score": own.get("score")},
    }


def detail_json(
    answer: Answer, found: Mapping[str, Mapping[str, Any]], hide: bool, own: Mapping[str, Any] | None, position: int
) -> dict[str, Any]:
    """GET /api/answers/{id}: everything the answer page shows."""
    criteria = []
    for criterion in answer.criteria:
        steps = len(criterion.levels) - 1
        criteria.append(
            {
                "id": criterion.id,
                "description": criterion.description,
                "levels": criterion.levels,
                "points": round(criterion.points, 4),
                "level_points": [criterion.points * k / steps for k in range(len(criterion.levels))],
                "grader_level": None if hide else criterion.grader_level,
                "rationale": None if hide else criterion.rationale,
                "evidence": criterion.evidence,
            }
        )
    summary = summary_json(answer, found, hide, own)
    return {
        **summary,
        "position": position,
        "asked": answer.asked,
        "answer": answer.text,
        "highlights": highlight_spans(answer.text, {c.id: c.evidence for c in answer.criteria}),
        "flag_meanings": {f: FLAG_MEANINGS.get(f, "") for f in answer.flags},
        "error": answer.error,
        "criteria": criteria,
        "blind": hide,
        "rubric_changed": answer.rubric_changed,
        "my_review": None if own is None else {**summary["my_review"], "note": own.get("note")},
        "other_reviewers": sorted(r for r in found.get(answer.answer_id, {}) if r != own_name(own)),
    }


def own_name(own: Mapping[str, Any] | None) -> str | None:
    """The reviewer of a review line (None for none)."""
    return None if own is None else str(own.get("reviewer"))


def bind_loopback(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (never another interface); port 0 picks a free one.

    Raises:
        InputError: if the port is taken or not ours to use.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InputError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror}); pass another --port") from None
    return sock


def run(session: ReviewSession, sock: socket.socket) -> None:
    """Serve the session on a bound loopback socket until interrupted (quietly: the access log would hold the token)."""
    import uvicorn

    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(session, port), log_level="warning", access_log=False, lifespan="off", server_header=False,
        proxy_headers=False,
    )  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])
