"""Markdown for notes: CommonMark with raw HTML off, so whatever a note says is shown, never run."""

from markdown_it import MarkdownIt

# html=False escapes every tag written in a note; markdown-it also refuses javascript:, vbscript: and data: links.
_renderer = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def markdown_to_html(text: str) -> str:
    return _renderer.render(text)
