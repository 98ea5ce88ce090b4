from django import template
from django.utils.safestring import SafeString, mark_safe

from apps.runs.markdown import markdown_to_html

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return mark_safe(markdown_to_html(text))  # safe: the renderer escapes all HTML in the text
