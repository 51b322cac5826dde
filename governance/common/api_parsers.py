"""The API's JSON parser: DRF's, refusing what the databases cannot store (``governance.common.storable``)."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from governance.common.storable import loads_json


class StrictJSONParser(JSONParser):
    """JSON bodies through ``loads_json``, the parser the portal's JSON fields use too."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return loads_json(codecs.getreader(encoding)(stream).read())
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from error
