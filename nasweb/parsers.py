"""The API's JSON parser: DRF's, with an answer for a body nested too deeply to parse."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # json.loads recurses once per level of nesting: a few kilobytes of "[" exhaust Python's stack.
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
