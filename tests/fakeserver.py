"""A local fake OpenAI-compatible server, for tests and benchmarks (hand-made responses, not recordings).

It serves POST /v1/chat/completions on 127.0.0.1 from a queue of scripted responses; when the queue is
empty it synthesises a valid verdict from the request's own JSON schema, so batches and benchmarks need
no scripting. Every request body is logged in `.requests`. Faults are injected either by queueing them
(`Status`, `Raw`, `Hang`, `Cut`, a `Reply` with bad content, or one of the reply factories below such as
`wrong_schema` and `refusal`) or with a seeded `FaultPlan` of rates.

The faults a "compatible" server or a flaky API produces, and how to ask for each:

    429 with Retry-After      Status(429, headers={"retry-after": "1"})     FaultPlan(rate_429=, retry_after=)
    500 / 503                 Status(500) / Status(503)                     rate_500 / rate_503
    hanging call              Hang(30)                                      rate_hang, hang_seconds
    slow call                 Hang(0.5)                                     rate_slow, slow_seconds
    truncated JSON            "truncated" or truncated(body)               rate_truncated
    invalid JSON (prose)      invalid_json(body)                            rate_invalid_json
    wrong schema              wrong_schema(body), level_out_of_range(body)  rate_wrong_schema
    refusal                   refusal(body), content_filter(body)           rate_refusal
    finish_reason=length      length_cut(body)                              rate_length
    broken 200 body           BROKEN_BODIES["html" | "empty" | ...]         rate_broken
    connection cut mid-body   Cut()                                         rate_cut

The shapes follow the OpenAI chat completions API (id, object, created, model, system_fingerprint,
choices[].message.{role, content, refusal}, finish_reason, usage).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A 200 chat completion. `content` is a dict (sent as JSON) or a raw string (may be invalid JSON)."""

    content: Any = None
    finish_reason: str = "stop"
    refusal: str | None = None
    prompt_tokens: int = 900
    completion_tokens: int = 250
    logprobs: list[dict[str, Any]] | None = None


@dataclass
class Status:
    """An error status with an OpenAI-style error body."""

    code: int
    message: str = "fake error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    """Arbitrary bytes with a status: for broken proxies."""

    body: bytes
    code: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hang:
    """Wait this long before answering with `then` (or a synthesised reply)."""

    seconds: float
    then: Any = None


@dataclass
class Cut:
    """A 200 whose body stops before its declared content-length, then the connection closes."""

    body: bytes = b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [{"index": 0, "mess'
    declared: int = 4096


def truncated(body: dict[str, Any]) -> Reply:
    """A valid verdict cut in half: invalid JSON, as from a proxy that drops the end of a stream."""
    text = json.dumps(synthesise_verdict(body))
    return Reply(text[: len(text) // 2])


def invalid_json(body: dict[str, Any]) -> Reply:
    """Prose instead of JSON, as from a server that ignores response_format."""
    return Reply("Sure! Here is my assessment: the candidate deserves 8/10 overall.")


def wrong_schema(body: dict[str, Any]) -> Reply:
    """Valid JSON in a shape of its own (a score, no criteria)."""
    return Reply({"score": 10, "feedback": "great answer"})


def level_out_of_range(body: dict[str, Any]) -> Reply:
    """The right shape, with a level the rubric does not have."""
    verdict = synthesise_verdict(body)
    first = next(iter(verdict["criteria"]))
    verdict["criteria"][first]["level"] = 99
    return Reply(verdict)


def missing_criterion(body: dict[str, Any]) -> Reply:
    """The right shape, one criterion short."""
    verdict = synthesise_verdict(body)
    verdict["criteria"].pop(next(iter(verdict["criteria"])))
    return Reply(verdict)


def extra_criterion(body: dict[str, Any]) -> Reply:
    """The right shape, with a criterion the rubric does not have."""
    verdict = synthesise_verdict(body)
    verdict["criteria"]["bonus_points"] = {"evidence": [], "rationale": "invented", "level": 3}
    return Reply(verdict)


def refusal(body: dict[str, Any]) -> Reply:
    """A structured-output refusal (message.refusal set, no content)."""
    return Reply(None, refusal="I'm sorry, I can't help with that.")


def content_filter(body: dict[str, Any]) -> Reply:
    """A reply stopped by the provider's content filter."""
    return Reply(None, finish_reason="content_filter")


def length_cut(body: dict[str, Any]) -> Reply:
    """A reply cut at the token limit: finish_reason=length and half a verdict."""
    reply = truncated(body)
    reply.finish_reason = "length"
    return reply


BROKEN_BODIES: dict[str, Raw] = {
    "html": Raw(b"<html><body><h1>502 Bad Gateway</h1></body></html>", 200, "text/html"),
    "empty": Raw(b""),
    "choices_null": Raw(b'{"choices": null}'),
    "choices_empty": Raw(b'{"id": "x", "object": "chat.completion", "choices": []}'),
    "message_null": Raw(b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": null}]}'),
    "content_null": Raw(
        b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",'
        b' "message": {"role": "assistant", "content": null}}]}'
    ),
    "json_array": Raw(b"[1, 2, 3]"),
    "not_utf8": Raw(b'{"choices": "' + bytes([0xFF, 0xFE, 0xFD]) + b'"}'),
    "truncated_body": Raw(b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [{"index": 0, "mes'),
}
"""200 replies a "compatible" proxy has been seen to send instead of a chat completion."""


@dataclass
class FaultPlan:
    """Random faults at given rates, reproducible by seed; the rest are synthesised verdicts.

    `counts` tallies what was drawn (by fault name, "ok" for a good reply), for benchmarks to report.
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_truncated: float = 0.0
    rate_hang: float = 0.0
    hang_seconds: float = 30.0
    retry_after: str = "0"
    seed: int = 0
    rate_invalid_json: float = 0.0
    rate_wrong_schema: float = 0.0
    rate_refusal: float = 0.0
    rate_length: float = 0.0
    rate_broken: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 0.5
    rate_cut: float = 0.0
    counts: Counter[str] = field(init=False, default_factory=Counter)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self) -> Any:
        """The fault for the next request, or None for a good reply."""
        with self._lock:
            roll = self._rng.random()
            broken = self._rng.choice(sorted(BROKEN_BODIES))
        # The original five come first, so a seed draws the same faults as before the others existed.
        edges: list[tuple[str, float, Any]] = [
            ("429", self.rate_429, Status(429, self.rate_limit_message(), {"retry-after": self.retry_after})),
            ("500", self.rate_500, Status(500, "The server had an error")),
            ("503", self.rate_503, Status(503, "Service unavailable")),
            ("truncated", self.rate_truncated, "truncated"),
            ("hang", self.rate_hang, Hang(self.hang_seconds)),
            ("invalid_json", self.rate_invalid_json, invalid_json),
            ("wrong_schema", self.rate_wrong_schema, wrong_schema),
            ("refusal", self.rate_refusal, refusal),
            ("length", self.rate_length, length_cut),
            ("broken:" + broken, self.rate_broken, BROKEN_BODIES[broken]),
            ("slow", self.rate_slow, Hang(self.slow_seconds)),
            ("cut", self.rate_cut, Cut()),
        ]
        for name, rate, fault in edges:
            if roll < rate:
                self._tally(name)
                return fault
            roll -= rate
        self._tally("ok")
        return None

    def rate_limit_message(self) -> str:
        """OpenAI's wording, which repeats the Retry-After in the text (clients that see no headers parse it)."""
        return (
            "Rate limit reached for gpt-4.1-mini in organization org-fake on requests per min (RPM): "
            f"Limit 500, Used 500, Requested 1. Please try again in {self.retry_after}s."
        )

    def _tally(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].split("/")[-1]
        node = schema.get("$defs", {}).get(name) or schema.get("definitions", {})[name]
    return node


LevelPolicy = Callable[[str, int], int]


def top_level(criterion_id: str, levels: int) -> int:
    """Policy: every criterion at its highest level."""
    return levels - 1


def first_choice(body: dict[str, Any], allowed: list[str]) -> str:
    """Default answer to a question-matching request: the word matcher's best candidate."""
    return allowed[0]


def _choice_enum(body: dict[str, Any]) -> list[str] | None:
    """The allowed ids when the request asks to choose a bank question (QuestionChoice), else None."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    node = (schema.get("properties") or {}).get("question_id")
    return list(node["enum"]) if isinstance(node, dict) and isinstance(node.get("enum"), list) else None


def synthesise_verdict(body: dict[str, Any], policy: LevelPolicy = top_level) -> dict[str, Any]:
    """A valid verdict for the request's schema, with levels chosen by policy."""
    schema = body["response_format"]["json_schema"]["schema"]
    criteria_node = _resolve(schema, schema["properties"]["criteria"])
    criteria = {}
    for cid, prop in criteria_node["properties"].items():
        level_node = _resolve(schema, _resolve(schema, prop)["properties"]["level"])
        levels = level_node.get("enum") or list(range(int(level_node.get("maximum", 3)) + 1))
        criteria[cid] = {"evidence": [], "rationale": f"synthesised for {cid}", "level": policy(cid, len(levels))}
    return {
        "criteria": criteria,
        "feedback": {
            "strengths": ["synthesised strength"],
            "gaps": [],
            "misconceptions": [],
            "next_step": "synthesised next step",
            "follow_up_questions": ["synthesised follow-up?"],
        },
    }


def completion_body(reply: Reply, model: str, n: int = 1) -> dict[str, Any]:
    """The JSON of a chat completion."""
    content = reply.content if isinstance(reply.content, str) or reply.content is None else json.dumps(reply.content)
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": content, "refusal": reply.refusal},
        "finish_reason": reply.finish_reason,
        "logprobs": {"content": reply.logprobs} if reply.logprobs is not None else None,
    }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [dict(choice, index=i) for i in range(n)],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


def _distinct_choices(payload: dict[str, Any], body: dict[str, Any], policy: LevelPolicy) -> dict[str, Any]:
    """A completion whose choices after the first carry freshly synthesised verdicts."""
    for choice in payload["choices"][1:]:
        choice["message"] = dict(choice["message"], content=json.dumps(synthesise_verdict(body, policy)))
    return payload


class FakeOpenAIServer:
    """The server; use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        policy: LevelPolicy = top_level,
    ) -> None:
        self.latency = latency
        self.faults = faults
        self.policy = policy
        self.queue: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.arrivals: list[float] = []
        self.choose: Callable[[dict[str, Any], list[str]], str] = first_choice
        """How --llm-match requests are answered: (request body, allowed ids + "none") -> the reply's id."""
        """time.monotonic() of each request, for tests of waiting."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.batch_api = FakeBatchAPI(self)
        """/v1/files and /v1/batches (see FakeBatchAPI): its settings are attributes of that object."""

    @property
    def url(self) -> str:
        """Base URL for the SDK (…/v1)."""
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def enqueue(self, *responses: Any) -> FakeOpenAIServer:
        """Queue responses (Reply, Status, Raw, Hang, Cut, "truncated", a dict sent as a Reply, or a
        callable taking the request body and returning one of these)."""
        with self._lock:
            self.queue.extend(responses)
        return self

    def _next(self) -> Any:
        with self._lock:
            if self.queue:
                return self.queue.pop(0)
        if self.faults is not None:
            return self.faults.draw()
        return None

    def start(self) -> FakeOpenAIServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                code, payload = fake.batch_api.get(self.path)
                if isinstance(payload, bytes):
                    self._send_bytes(code, payload, "application/octet-stream")
                else:
                    self._send(code, payload)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if "/files" in self.path or "/batches" in self.path:
                    self._send(*fake.batch_api.post(self.path, raw, self.headers.get("content-type", "")))
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, {"error": {"message": "invalid JSON body"}})
                    return
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append(dict(self.headers))
                    fake.arrivals.append(time.monotonic())
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if fake.latency:
                    time.sleep(fake.latency)
                self._answer(body, fake._next())

            def _answer(self, body: dict[str, Any], item: Any) -> None:
                model = body.get("model", "fake-model")
                n = int(body.get("n") or 1)
                if isinstance(item, Hang):
                    if fake._stopping.wait(item.seconds):
                        return
                    item = item.then
                allowed = _choice_enum(body)
                if item is None and allowed is not None:  # an --llm-match request
                    item = Reply({"question_id": fake.choose(body, allowed)})
                elif item is None:
                    item = Reply(synthesise_verdict(body, fake.policy))
                    if n > 1:  # each choice drawn on its own, so a random policy gives distinct samples
                        self._send(200, _distinct_choices(completion_body(item, model, n), body, fake.policy))
                        return
                elif item == "truncated":
                    text = json.dumps(synthesise_verdict(body, fake.policy))
                    item = Reply(text[: len(text) // 2])
                elif isinstance(item, dict):
                    item = Reply(item)
                elif callable(item):
                    item = item(body)
                if isinstance(item, Cut):
                    self._send_cut(item)
                elif isinstance(item, Status):
                    self._send(
                        item.code, {"error": {"message": item.message, "type": "fake", "code": None}}, item.headers
                    )
                elif isinstance(item, Raw):
                    self._send_bytes(item.code, item.body, item.content_type, item.headers)
                else:
                    self._send(200, completion_body(item, model, n))

            def _send_cut(self, item: Cut) -> None:
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(item.declared))
                    self.end_headers()
                    self.wfile.write(item.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _send(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                self._send_bytes(code, json.dumps(payload).encode(), "application/json", headers)

            def _send_bytes(
                self, code: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
            ) -> None:
                try:
                    self.send_response(code)
                    self.send_header("content-type", content_type)
                    self.send_header("content-length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that hangs up mid-request (a batch stopping, a timeout) is normal here; socketserver
                # would print its traceback to stderr, which a CLI test captures as if the grader had printed it.
                if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
                    return
                super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeBatchAPI:
    """The OpenAI Files and Batches APIs, enough for the Batch API path of the grader.

    POST /v1/files (multipart, purpose=batch), GET /v1/files/{id}/content, POST /v1/batches, GET /v1/batches/{id},
    POST /v1/batches/{id}/cancel. A batch runs for `seconds` (its request_counts grow meanwhile), then:

    - `end="completed"`: every line answered; a `fail_rate` share of them (spread evenly, deterministic) fails
      with a 500 in the error file, the rest get `reply(body)` (default: a synthesised valid verdict).
    - `end="expired"`: the first `done_share` of the lines answered, the rest in the error file as batch_expired.
    - `end="failed"`: no output, `errors.data` gives the reason (`failure`).
    - cancel: status cancelling, then cancelled with the lines done so far.

    `created` counts the batches created; `lines` the request lines received.
    """

    def __init__(self, server: FakeOpenAIServer) -> None:
        self.server = server
        self.seconds = 0.5
        self.fail_rate = 0.0
        self.end = "completed"
        self.done_share = 0.5
        self.failure = "Enqueued token limit reached for gpt-4.1-mini in organization org-fake."
        self.reply: Callable[[dict[str, Any]], Any] | None = None
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.created = 0
        self.lines = 0
        self._lock = threading.Lock()

    # --- routes ---

    def post(self, path: str, raw: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        parts = path.split("?")[0].rstrip("/").split("/")
        if parts[-1] == "files":
            return self._upload(raw, content_type)
        if parts[-1] == "batches":
            return self._create(json.loads(raw or b"{}"))
        if parts[-1] == "cancel" and parts[-3] == "batches":
            return self._cancel(parts[-2])
        return 404, {"error": {"message": f"no route {path}"}}

    def get(self, path: str) -> tuple[int, Any]:
        parts = path.split("?")[0].rstrip("/").split("/")
        if parts[-1] == "content" and parts[-3] == "files":
            data = self.files.get(parts[-2])
            return (200, data) if data is not None else (404, {"error": {"message": "no such file"}})
        if parts[-2] == "batches":
            with self._lock:
                batch = self.batches.get(parts[-1])
                if batch is None:
                    return 404, {"error": {"message": f"No batch found with id '{parts[-1]}'."}}
                self._advance(batch)
                return 200, self._public(batch)
        return 404, {"error": {"message": f"no route {path}"}}

    # --- the work ---

    def _upload(self, raw: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        from email.parser import BytesParser
        from email.policy import HTTP

        message = BytesParser(policy=HTTP).parsebytes(b"content-type: " + content_type.encode() + b"\r\n\r\n" + raw)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "file" not in fields or fields.get("purpose") is None:
            return 400, {"error": {"message": "file and purpose are required"}}
        data = fields["file"].get_payload(decode=True) or b""
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
        return 200, {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                     "filename": fields["file"].get_filename(), "purpose": "batch", "status": "processed"}  # fmt: skip

    def _create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = self.files.get(params.get("input_file_id", ""))
        if data is None:
            return 400, {"error": {"message": "input_file_id not found"}}
        lines = [json.loads(line) for line in data.splitlines() if line.strip()]
        with self._lock:
            self.created += 1
            self.lines += len(lines)
            batch_id = f"batch_{self.created:04d}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": params.get("endpoint"), "errors": None,
                "input_file_id": params["input_file_id"], "completion_window": params.get("completion_window"),
                "status": "validating", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "metadata": params.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_lines": lines, "_start": time.monotonic(), "_cancel": False,
            }  # fmt: skip
            return 200, self._public(self.batches[batch_id])

    def _cancel(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, {"error": {"message": "no such batch"}}
            if batch["status"] not in ("completed", "failed", "expired", "cancelled"):
                batch["_cancel"], batch["status"] = True, "cancelling"
            return 200, self._public(batch)

    def _advance(self, batch: dict[str, Any]) -> None:
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return
        total = len(batch["_lines"])
        share = min(1.0, (time.monotonic() - batch["_start"]) / self.seconds) if self.seconds else 1.0
        if batch["_cancel"]:
            self._finalise(batch, "cancelled", int(total * share))
        elif share >= 1.0:
            if self.end == "failed":
                batch["status"], batch["failed_at"] = "failed", int(time.time())
                batch["errors"] = {"object": "list", "data": [{"code": "token_limit_exceeded", "message": self.failure,
                                                               "param": None, "line": None}]}  # fmt: skip
            else:
                done = int(total * self.done_share) if self.end == "expired" else total
                self._finalise(batch, self.end, done)
        else:
            batch["status"] = "in_progress"
            batch["request_counts"]["completed"] = int(total * share)

    def _finalise(self, batch: dict[str, Any], status: str, done: int) -> None:
        output, errors = [], []
        lines = batch["_lines"]
        for index, line in enumerate(lines):
            custom_id = line["custom_id"]
            if index >= done:
                if status == "expired":
                    error = {"code": "batch_expired", "message": "This request could not be executed before the "
                             "completion window expired."}  # fmt: skip
                    errors.append(
                        {"id": f"batch_req_{index}", "custom_id": custom_id, "response": None, "error": error}
                    )
                continue
            if int(index * self.fail_rate) != int((index + 1) * self.fail_rate):
                body = {
                    "error": {"message": "The server had an error processing your request.", "type": "server_error"}
                }
                response = {"status_code": 500, "request_id": f"req_{index}", "body": body}
                errors.append({"id": f"batch_req_{index}", "custom_id": custom_id, "error": None, "response": response})
                continue
            request = line["body"]
            item = self.reply(request) if self.reply is not None else None
            if item is None:
                item = Reply(synthesise_verdict(request, self.server.policy))
            elif isinstance(item, dict):
                item = Reply(item)
            payload = completion_body(item, request.get("model", "fake-model"), int(request.get("n") or 1))
            response = {"status_code": 200, "request_id": f"req_{index}", "body": payload}
            output.append({"id": f"batch_req_{index}", "custom_id": custom_id, "error": None, "response": response})
        for key, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = "".join(json.dumps(row) + "\n" for row in rows).encode()
                batch[key] = file_id
        batch["status"] = status
        batch[f"{status}_at"] = int(time.time())
        failed = sum(1 for row in errors if row["response"] is not None)
        batch["request_counts"] = {"total": len(lines), "completed": len(output), "failed": failed}

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}


if __name__ == "__main__":  # a manual server: python tests/fakeserver.py [latency]
    import sys

    server = FakeOpenAIServer(latency=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
