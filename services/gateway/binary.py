"""CloudEvents HTTP binary mode: `ce-*` headers and the `data` as the body, made structured.

Per the HTTP binding, a request is in binary mode when it carries `ce-specversion` (and its
body is not of a CloudEvents media type, which is structured mode). Each
`ce-<name>` header is the attribute `<name>`, percent-decoded (UTF-8); `Content-Type` is
`datacontenttype`. The event is stored in structured form, like any other: the envelope
built here goes through the one validated ingest, which words what is missing or wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import msgspec
import orjson

if TYPE_CHECKING:
    from starlette.datastructures import Headers

SPECVERSION_HEADER = "ce-specversion"
PREFIX = "ce-"
STRUCTURED_PREFIX = "application/cloudevents"
DATA_MEDIA_TYPE = "application/json"
_ONE_VALUE = msgspec.json.Decoder(msgspec.Raw)


class BinaryError(ValueError):
    """A binary-mode request that cannot be made an envelope (`status` says how to answer)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def is_binary(headers: Headers, media_type: str) -> bool:
    """True for a binary-mode request: `ce-specversion`, and not a CloudEvents media type."""
    # the binding: a body of type application/cloudevents(-batch)+json is structured, whatever
    # headers come with it
    return SPECVERSION_HEADER in headers and not media_type.startswith(STRUCTURED_PREFIX)


def data_is_json(media_type: str) -> bool:
    """True when a binary-mode body is JSON (`application/json` or a `+json` type)."""
    return media_type == DATA_MEDIA_TYPE or media_type.endswith("+json")


def structured(headers: Headers, body: bytes) -> bytes:
    """The structured envelope of a binary-mode request, as JSON bytes."""
    envelope: dict[str, Any] = {}
    for raw_name, raw_value in headers.raw:
        name = raw_name.decode("latin-1").lower()
        if not name.startswith(PREFIX) or len(name) == len(PREFIX):
            continue
        attribute = name.removeprefix(PREFIX)
        if attribute == "data":
            raise BinaryError(400, f"{name}: in binary mode the data is the body")
        if attribute in envelope:
            raise BinaryError(400, f"{name}: sent more than once")
        try:  # the binding percent-encodes what a header cannot carry, as UTF-8
            envelope[attribute] = unquote_to_bytes(raw_value).decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = exc.reason
            raise BinaryError(400, f"{name}: not UTF-8 once percent-decoded ({reason})") from None
    envelope["datacontenttype"] = DATA_MEDIA_TYPE  # stored as it is now: the data as JSON
    attributes = orjson.dumps(envelope)
    if not body.strip():  # no body, no data: the ingest names it as missing
        return attributes
    try:
        data = bytes(_ONE_VALUE.decode(body)).strip()
    except (msgspec.DecodeError, RecursionError) as exc:
        raise BinaryError(400, f"data: the body is not one JSON value ({exc})") from None
    # the data is kept as the exact bytes sent, as a structured envelope is
    return attributes[:-1] + b',"data":' + data + b"}"
