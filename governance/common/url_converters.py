"""Path converters for the portal's URLs: an id or a name the database cannot hold names nothing (404).

Django's ``<int:…>`` takes any number of digits and ``<str:…>`` any text, NUL included; PostgreSQL
raises on a bigint past 64 bits and on NUL in text, which would be a 500. Importing this module
registers ``<id:…>`` and ``<key:…>``; every urls.py that uses them imports it.
"""

from __future__ import annotations

from django.urls import register_converter

from governance.common.storable import database_id, text_problem


class DatabaseIdConverter:
    """A primary key: 1-19 digits, at most ``MAX_ID``; anything else does not match."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = database_id(value)
        if number is None:
            raise ValueError(f"not a database id: {value[:40]}")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


class StorableTextConverter:
    """A path segment the database can compare (no NUL, no lone surrogate), such as a rule id."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        if text_problem(value):
            raise ValueError("not storable text")
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DatabaseIdConverter, "id")
register_converter(StorableTextConverter, "key")
