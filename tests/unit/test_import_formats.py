"""Contacts from CSV, LinkedIn's Connections.csv and vCard: what each sample file holds.

The expected contacts are written out by hand from the sample files in tests/data; the
readers are fuzzed to show they are total (a contact, a skipped line, or a refusal in words).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.cli.contacts import (
    Contact,
    Contacts,
    ContactsRefused,
    Skipped,
    decode,
    guess_format,
    parse_mapping,
    read_csv,
    read_linkedin,
)
from services.cli.ids import (
    identity_key,
    imported_event_id,
    imported_relationship_id,
    new_relationship_id,
    slug,
)
from services.cli.vcards import read_vcards

DATA = Path(__file__).resolve().parents[1] / "data"
RELATIONSHIP_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
LINKEDIN = "linkedin"


def text(name: str) -> str:
    return decode((DATA / name).read_bytes())


def people(contacts: Contacts) -> list[tuple[int, str, str | None, str | None]]:
    return [(c.line, c.name, c.organization, c.email) for c in contacts.found]


def test_linkedin_export_skips_its_notes_and_reads_each_connection() -> None:
    contacts = read_linkedin(text("Connections.csv"))
    assert people(contacts) == [
        (5, "Margaret Hamilton", "Apollo Guidance", "margaret@apollo.example"),
        (6, "Katherine Johnson", "NASA Langley", None),
        (7, "Dorothy Vaughan", "NASA Langley", None),
        (8, "Mary Jackson", "Langley Aeronautical", "MARY@aero.example"),
    ]
    first = contacts.found[0]
    assert first.connected_on == date(2023, 3, 14)
    assert first.profile == "https://www.linkedin.com/in/margaret-hamilton-example"
    assert first.tags == (LINKEDIN,)
    assert [(s.line, s.why) for s in contacts.skipped] == [
        (9, "no name (nor an organization to name it by)"),
        (10, "connected on: 'sometime in 2019' is not a date (2023-03-12 or 12 Mar 2023)"),
    ]


def test_vcards_of_every_version_are_read_and_a_card_without_a_name_is_skipped() -> None:
    contacts = read_vcards(text("contacts.vcf"))
    assert people(contacts) == [
        (1, "Ada Lovelace", "Analytical Engines Ltd", "ada@engines.example"),  # the PREF email
        (11, "Grace Hopper", "US Navy", "grace@navy.example"),
        (19, "Alan Turing", "Bletchley Park", None),
        (24, "Augusta Ada King", None, "ADA@engines.example"),  # the same email as Ada's
        (29, "Analytical Engines Ltd", None, "hello@engines.example"),
        (39, "Jürgen Müller", None, "juergen@example.de"),  # vCard 2.1, quoted-printable
    ]
    assert contacts.found[0].tags == ("math", "poetry")
    assert contacts.found[4].kind == "organization"  # KIND:org
    assert [c.kind for c in contacts.found[:4]] == ["person"] * 4
    assert [(s.line, s.why) for s in contacts.skipped] == [
        (35, "no name (nor an organization to name it by)")
    ]


def test_a_csv_is_read_by_its_usual_column_names() -> None:
    contacts = read_csv(text("contacts.csv"))
    assert people(contacts) == [
        (2, "Barbara Liskov", "MIT", "barbara@mit.example"),
        (3, "Edsger Dijkstra", "TU Eindhoven", "edsger@eindhoven.example"),
        (4, "Frances Allen", "IBM Research", None),
        (6, "Radia Perlman", "Sun", "not-an-email"),  # refused later, by the contract
        (7, "Barbara L.", None, "BARBARA@mit.example"),  # de-duplicated later, by email
    ]
    assert contacts.found[0].tags == ("research", "teaching")
    assert contacts.found[0].connected_on == date(2024, 5, 1)
    assert [s.line for s in contacts.skipped] == [5, 8]


def test_a_mapping_names_the_columns() -> None:
    sheet = "Who;Mail;Firm;Type\nAda Lovelace;ada@x.example;Engines;person\nEngines;;;org\n"
    mapping = parse_mapping(["name=Who", "email=Mail", "organization=Firm", "kind=Type"])
    contacts = read_csv(sheet, mapping)
    assert people(contacts) == [
        (2, "Ada Lovelace", "Engines", "ada@x.example"),
        (3, "Engines", None, None),
    ]
    assert [c.kind for c in contacts.found] == ["person", "organization"]


def test_first_and_last_names_make_the_name() -> None:
    contacts = read_csv("Given Name,Surname,Company\nGrace,Hopper,Navy\n,,Acme Corp\n")
    assert [(c.name, c.kind) for c in contacts.found] == [
        ("Grace Hopper", "person"),
        ("Acme Corp", "organization"),
    ]


@pytest.mark.parametrize(
    ("pairs", "why"),
    [
        (["email"], "say field=Column"),
        (["mail=E-mail"], "'mail' is not one of name, first_name"),
        (["email="], "say field=Column"),
    ],
)
def test_a_wrong_mapping_is_refused_in_words(pairs: list[str], why: str) -> None:
    with pytest.raises(ContactsRefused, match=why):
        parse_mapping(pairs)


@pytest.mark.parametrize(
    ("sheet", "mapping", "why"),
    [
        ("", {}, "the file is empty"),
        ("Phone,Street\n1,2\n", {}, "no column holds a name"),
        ("Name,Email\nAda,a@x\n", {"email": "Mail"}, "--map email=Mail: no column 'Mail'"),
    ],
)
def test_a_csv_that_cannot_be_read_is_refused_in_words(
    sheet: str, mapping: dict[str, str], why: str
) -> None:
    with pytest.raises(ContactsRefused, match=re.escape(why)):
        read_csv(sheet, mapping)


def test_rows_that_cannot_be_read_are_skipped_with_why() -> None:
    contacts = read_csv("Name,Kind\nAda,robot\nGrace,\n,\n")
    assert people(contacts) == [(3, "Grace", None, None)]
    assert contacts.skipped == [Skipped(2, "kind: 'robot' is not person or organization", "Ada")]


def test_text_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ContactsRefused, match="not UTF-8"):
        decode(b"Name\n\xff\xfe\n")


def test_the_format_is_guessed_from_the_name_and_the_first_lines() -> None:
    assert guess_format("Connections.csv", text("Connections.csv")) == "linkedin"
    assert guess_format("people.vcf", "") == "vcard"
    assert guess_format("export.txt", "BEGIN:VCARD\r\n") == "vcard"
    assert guess_format("contacts.csv", text("contacts.csv")) == "csv"


def test_a_broken_card_is_skipped_and_the_others_read() -> None:
    cards = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nthis line is no property\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Grace\n"
    )
    contacts = read_vcards(cards)
    assert [c.name for c in contacts.found] == ["Ada"]
    assert [(s.line, s.why.split(" (")[0]) for s in contacts.skipped] == [
        (5, "not a vCard"),
        (9, "the card has no END:VCARD"),
    ]


def test_ids_are_readable_valid_and_the_same_for_the_same_contact() -> None:
    assert slug("Zoë Østergård-Smith, PhD") == "zoe-stergard-smith-phd"
    assert slug("李小龍") == "rel"
    made = new_relationship_id("Ada Lovelace")
    assert re.fullmatch(r"ada-lovelace-[0-9a-f]{6}", made)
    assert new_relationship_id("Ada Lovelace") != made
    key = identity_key("Ada", None, " ADA@Engines.example ")
    assert key == identity_key("Ada L.", "Engines", "ada@engines.example")  # by email
    assert identity_key("Ada", "Engines", None) == identity_key(" ada ", "ENGINES", None)
    assert identity_key("Ada", "Engines", None) != identity_key("Ada", "Looms", None)
    assert imported_relationship_id("Ada Lovelace", key) == imported_relationship_id(
        "Ada Lovelace", key
    )
    assert imported_event_id(key) == imported_event_id(key)
    assert imported_event_id(key) != imported_event_id(identity_key("Ada", None, "b@x"))


@given(st.text(max_size=80))
def test_every_id_made_matches_the_contract(name: str) -> None:
    for made in (new_relationship_id(name), imported_relationship_id(name, name)):
        assert RELATIONSHIP_ID.match(made)
        assert len(made) <= 40


ROW_TEXT = st.text(st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=200, deadline=None)
@given(ROW_TEXT)
def test_the_csv_readers_are_total(sheet: str) -> None:
    for read in (lambda t: read_csv("Name,Email,Tags,Connected On\n" + t), read_linkedin, read_csv):
        try:
            contacts = read(sheet)
        except ContactsRefused as exc:
            refused = str(exc)
            assert refused  # a refusal says why
            continue
        for found in contacts.found:
            assert isinstance(found, Contact)
            assert found.name.strip()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["BEGIN:VCARD", "END:VCARD", "VERSION:3.0", "FN:Ada", "N:;;;;"]) | ROW_TEXT,
        max_size=12,
    )
)
def test_the_vcard_reader_is_total(lines: list[str]) -> None:
    contacts = read_vcards("\r\n".join(lines))
    assert all(found.name.strip() for found in contacts.found)
    assert all(skipped.why for skipped in contacts.skipped)
