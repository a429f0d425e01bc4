"""The detector over REST: MLflow's own scoring server (``/invocations``, ``/ping``), guarded.

MLflow's server reads a request whole, parses it into memory, drops columns its schema does not
name and prefixes an error's message with the parsed input. Around it: a request over the row
limit answers 413 from its size before it is read (and from its row count once parsed), columns
the detector does not take answer 400, and an error's message is the detector's one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, REQUEST_LIMIT_EXCEEDED

from autoencoders.deploy.detector import check_columns
from autoencoders.errors import InputError

#: Bytes a request may spend per value (a number in JSON or CSV takes at most ~25, a category
#: name usually fewer): the row limit as a size, checked before the request is read.
BYTES_PER_VALUE = 64
#: What MLflow puts before a prediction error's own message.
MLFLOW_PREFIX = "Failed to predict data"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TooManyRows(MlflowException):
    """A request over the row limit: HTTP 413, which MLflow's error codes have no name for."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=REQUEST_LIMIT_EXCEEDED)

    def get_http_status_code(self) -> int:
        return 413


class GuardedModel:
    """A loaded pyfunc model that refuses, before MLflow's schema drops or reads anything, more
    rows than ``max_rows`` and columns other than its signature's, by the CLI's rules and in its
    words (the CLI carries other columns into its output; an answer over REST has nowhere to put
    them, and MLflow's schema would drop them unsaid)."""

    def __init__(self, model: Any, max_rows: int) -> None:
        self.model, self.max_rows = model, max_rows
        self.metadata = model.metadata
        schema = model.metadata.get_input_schema()
        self.columns = schema.input_names() if schema is not None and schema.has_input_names() else None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if len(data) > self.max_rows:
            raise TooManyRows(row_limit_message(f"input has {len(data)} rows", self.max_rows))
        if self.columns is not None and isinstance(data, pd.DataFrame):
            try:
                check_columns(list(data.columns), self.columns)
            except InputError as error:
                raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        return self.model.predict(data, params=params)


def row_limit_message(found: str, max_rows: int) -> str:
    return f"{found}; this server scores at most {max_rows} rows per request (max_rows)"


def values_per_row(model: Any) -> int:
    """How many values one row of the model's input holds: its columns, or a tensor's size."""
    schema = model.metadata.get_input_schema()
    if schema is None:
        return 1
    if schema.is_tensor_spec():
        return max(1, math.prod(abs(size) for size in schema.inputs[0].shape[1:]))
    return max(1, len(schema.inputs))


class RequestGuard:
    """ASGI middleware: a POST body over ``max_bytes`` answers 413 (from its ``Content-Length``
    before a byte is read, or as soon as a streamed body passes it), and an error answer's message
    loses MLflow's prefix (which repeats the parsed input) to be the detector's one line."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_rows: int) -> None:
        self.app, self.max_bytes, self.max_rows = app, max_bytes, max_rows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.max_bytes:
            return await self.refuse(send)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return await self.refuse(send)
            if not message.get("more_body"):
                break
        whole: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replay() -> Message:  # the body once, then the client's own events (disconnect)
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, with_own_messages(send))

    async def refuse(self, send: Send) -> None:
        size = f"the request is over {self.max_bytes:,} bytes, more than {self.max_rows} rows take"
        error = TooManyRows(row_limit_message(size, self.max_rows))
        body = error.serialize_as_json().encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def with_own_messages(send: Send) -> Send:
    """``send`` with a JSON error answer's message cut to the detector's own line (an error
    answer is small: held whole until its last part)."""
    held: list[Message] = []
    parts = bytearray()

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            held.append(message)
            return None
        if not held or message["type"] != "http.response.body":
            return await send(message)
        parts.extend(message.get("body", b""))
        if message.get("more_body"):
            return None
        start, body = held.pop(), own_message(bytes(parts))
        start["headers"] = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        start["headers"].append((b"content-length", str(len(body)).encode()))
        await send(start)
        return await send({"type": "http.response.body", "body": body})

    return sending


def own_message(body: bytes) -> bytes:
    """MLflow's ``{"error_code", "message"}`` answer with one line of message: the detector's
    own (after MLflow's prefix, which repeats the parsed input), or MLflow's first line (the
    lines after it repeat the request); anything else unchanged."""
    try:
        error = json.loads(body)
    except ValueError:
        return body
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return body
    message = error["message"]
    if message.startswith(MLFLOW_PREFIX):
        message = message.rsplit("\nError: ", 1)[-1]
    error["message"] = message.strip().split("\n", 1)[0]
    return json.dumps(error).encode()


def scoring_app(model: Any, max_rows: int) -> ASGIApp:
    """MLflow's scoring app for a loaded pyfunc ``model``, guarded: at most ``max_rows`` rows a
    request (its size bounded by :data:`BYTES_PER_VALUE` per value, plus 64 KiB)."""
    from mlflow.pyfunc import scoring_server

    max_bytes = max_rows * values_per_row(model) * BYTES_PER_VALUE + 2**16
    return RequestGuard(scoring_server.init(GuardedModel(model, max_rows)), max_bytes, max_rows)
