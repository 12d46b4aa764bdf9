"""The dashboard's Jinja2 environment: templates shipped in the package, and their filters."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from projections.health.policy import band
from services.gateway.dashboard.listing import url_with

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
NONE = "\N{EN DASH}"  # what a missing value reads as


def day(value: str | date | datetime | None) -> str:
    """A calendar day, `2026-03-12` (a dash when unknown)."""
    if value is None or value == "":
        return NONE
    if isinstance(value, date):
        return value.isoformat()[:10]
    return value[:10]


def moment(value: str | datetime | None) -> str:
    """Day and minute in UTC, `2026-03-12 14:05`."""
    if value is None or value == "":
        return NONE
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.strftime("%Y-%m-%d %H:%M")


def percent(value: float | None) -> str:
    """A ratio as a whole percentage (a dash when there is none)."""
    return NONE if value is None else f"{round(100 * value)}%"


def signed(value: float) -> str:
    """A sentiment with its sign, `+0.6` or `-0.2`."""
    return f"{value:+.1f}"


def make_templates() -> Jinja2Templates:
    """Templates with the dashboard's filters registered."""
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    templates.env.filters.update(day=day, moment=moment, percent=percent, signed=signed)
    templates.env.globals.update(band_of=band, url_with=url_with)
    return templates
