from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString

from apps.nas.names import BACKBONE_NAMES, STRATEGIES

register = template.Library()


@register.simple_tag
def backbone_names_script() -> SafeString:
    """The pretrained networks' names people read, as JSON in a script element with id "backbone-names"."""
    return json_script(BACKBONE_NAMES, "backbone-names")


@register.simple_tag
def strategy_names_script() -> SafeString:
    """The search strategies' names people read, as JSON in a script element with id "strategy-names"."""
    return json_script(STRATEGIES, "strategy-names")
