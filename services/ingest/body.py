"""A request body of the ingest as its envelopes: one object, or an array (a batch).

Each envelope is kept as the exact bytes sent (numbers, spelling and all); a body that is not
events at all is refused as a whole with `BodyError` (HTTP 400, or 413 for too many events).
Light on purpose: the gateway checks bodies with it before asking the ingest.
"""

from __future__ import annotations

import msgspec

_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_ONE = msgspec.json.Decoder(msgspec.Raw)


class BodyError(ValueError):
    """A request body that cannot be read as events at all (HTTP 400 or 413)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.code = "too_large" if status == 413 else "invalid"
        super().__init__(message)


def split_body(body: bytes, max_batch: int) -> tuple[list[bytes], bool]:
    """The envelopes of a body, each as the exact bytes sent; say whether it was a batch."""
    start = body.lstrip()[:1]
    try:
        if start == b"[":
            items = [bytes(raw) for raw in _RAW_LIST.decode(body)]
            if len(items) > max_batch:
                raise BodyError(
                    413, f"batch: {len(items)} events is more than the limit of {max_batch}"
                )
            return items, True
        one = bytes(_RAW_ONE.decode(body))
    except (msgspec.DecodeError, RecursionError) as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise BodyError(400, f"body: not valid UTF-8 (byte {bad.start})") from None
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BodyError(400, f"body: not valid JSON ({reason})") from None
    if start != b"{":
        raise BodyError(
            400, "body: must be a JSON object (one event) or an array of them (a batch)"
        )
    return [one], False
