"""Query and path parameters of the GET routes: read from the URL, checked, and documented.

What a parameter may be comes from the query models of the contract (`events/queries.py`),
which the services validate every query with: each `Param` documents its model field's
schema. The gateway converts only what a URL cannot type (whole numbers) and refuses what
those models would let through (epoch seconds for an instant, numbers past 2^63 - 1); text
goes on as sent, and the service words its errors. No FastAPI parameter machinery runs per
request: the hottest routes read two or three keys of the query string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from events.fields import RELATIONSHIP_ID_PATTERN, Rfc3339Time
from events.parsing import describe

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from fastapi import Request

MAX_SEQ = 2**63 - 1  # the largest sequence SQLite and every JSON reader take exactly
_YEARS = "19(0[1-9]|[1-9][0-9])|20[0-9][0-9]|21([0-8][0-9]|9[0-8])"
_REST = (
    "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
# An instant the gateway takes: RFC 3339 with an offset, in 1901..2198, so that the model's
# range (1900..2199 in UTC) never refuses one, whatever its offset. Documented as the pattern.
INSTANT_PATTERN = f"^({_YEARS}){_REST}$"
_INSTANT = re.compile(INSTANT_PATTERN, re.ASCII)
_ANY_YEAR = re.compile(f"^[0-9]{{4}}{_REST}$", re.ASCII)
_RELATIONSHIP_ID = re.compile(RELATIONSHIP_ID_PATTERN, re.ASCII)
# the contract's own type, as the service reads it (strict JSON): errors come out as `name: ...`
_INSTANTS = TypeAdapter(dict[str, Rfc3339Time], config=ConfigDict(strict=True))


class BadParameter(ValueError):
    """A parameter that cannot be read: the message says which and why (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: how to read it, and how the OpenAPI document describes it."""

    name: str
    read: Callable[[str], Any]
    schema: dict[str, Any]
    description: str
    where: str = "query"
    example: str | None = None

    def document(self) -> dict[str, Any]:
        """The parameter's OpenAPI object."""
        document = {
            "name": self.name,
            "in": self.where,
            "required": self.where == "path",
            "description": self.description,
            "schema": self.schema,
        }
        return document if self.example is None else {**document, "example": self.example}


def read_query(request: Request, params: Sequence[Param]) -> dict[str, Any]:
    """The parameters present in the query string, read (`BadParameter` for a bad one)."""
    query = request.query_params
    found: dict[str, Any] = {}
    for param in params:
        raw = query.get(param.name)
        if raw is not None:
            found[param.name] = param.read(raw)
    return found


def documented(*params: Param) -> dict[str, Any]:
    """`openapi_extra` of a route taking these parameters."""
    return {"parameters": [param.document() for param in params]}


def field_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The JSON schema of a query model's field, as one parameter of a URL (never null)."""
    whole = model.model_json_schema()
    schema = _inline(whole["properties"][name], whole.get("$defs", {}))
    if schema.get("default", "") is None:
        del schema["default"]
    return schema


def _inline(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    plain = {key: value for key, value in schema.items() if key not in ("title", "description")}
    options = [option for option in plain.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        plain = {**_inline(options[0], defs), **plain}
    if "$ref" in plain:
        plain = {**_inline(defs[plain.pop("$ref").rsplit("/", 1)[-1]], defs), **plain}
    return plain


def whole(model: type[BaseModel], name: str, description: str, most: int | None = None) -> Param:
    """A whole number within its field's bounds (and at most `most`)."""
    schema = field_schema(model, name)
    low = int(schema.get("minimum", 0))
    high = int(most if most is not None else schema["maximum"])
    schema["maximum"] = high

    def read(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()):  # '²' and '٣' are digits, not numbers
            raise BadParameter(f"{name}: must be a whole number >= {low}, got {raw[:40]!r}")
        if len(raw.lstrip("0")) > len(str(high)) or not low <= int(raw) <= high:
            raise BadParameter(
                f"{name}: must be a whole number from {low} to {high}, got {raw[:40]!r}"
            )
        return int(raw)

    return Param(name, read, schema, description)


def instant(name: str, description: str) -> Param:
    """An RFC 3339 date-time with an offset, passed on as sent."""
    schema = {"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}

    def read(raw: str) -> str:
        if _INSTANT.fullmatch(raw):
            try:  # the contract's own type: a real date, in range
                _INSTANTS.validate_json(orjson.dumps({name: raw}))
            except ValidationError as exc:
                raise BadParameter("; ".join(describe(exc))) from None
            return raw
        if _ANY_YEAR.fullmatch(raw):
            raise BadParameter(f"{name}: {raw[:40]} is outside the accepted years 1901..2198")
        if " " in raw and _INSTANT.fullmatch(raw.replace(" ", "+")):  # a URL reads '+' as a space
            raise BadParameter(f"{name}: {raw[:40]!r} lost its '+': send it as %2B in a URL")
        # worded as every other time of the contract is (events.parsing)
        raise BadParameter("; ".join(describe(_not_a_time(name, raw))))

    return Param(name, read, schema, description, example="2026-11-02T15:04:05Z")


def text(model: type[BaseModel], name: str, description: str) -> Param:
    """Text passed on as sent: the service validates it against its model and words why not."""
    return Param(name, str, field_schema(model, name), description)


def relationship_path(description: str = "relationship id", example: str = "rel-42") -> Param:
    """The `{relationship_id}` of a path."""

    def read(raw: str) -> str:
        if not _RELATIONSHIP_ID.fullmatch(raw):
            raise BadParameter(
                f"relationship_id: must be 1-128 letters, digits, '_' or '-', got {raw[:60]!r}"
            )
        return raw

    schema = {"type": "string", "pattern": RELATIONSHIP_ID_PATTERN}
    return Param("relationship_id", read, schema, description, where="path", example=example)


def _not_a_time(name: str, raw: str) -> ValidationError:
    return ValidationError.from_exception_data(
        "Instant",
        [{"type": "datetime_parsing", "loc": (name,), "input": raw, "ctx": {"error": "shape"}}],
    )
