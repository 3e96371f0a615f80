"""Placeholders of the webhook's URL and body templates (no daemon needed)."""

from __future__ import annotations

import json

from edgeos.workers.webhook import template


def test_body_template_fills_json_safely() -> None:
    values = template.fields("alert_service", "kitchen", {"t": 21.5}, 1700000000000)
    body = template.body('{"a": "{address}", "v": {value}, "at": {ts}, "keep": {"x": 1}}',
                         values)
    assert json.loads(body) == {"a": "alert_service.kitchen", "v": {"t": 21.5},
                                "at": 1700000000000, "keep": {"x": 1}}


def test_default_body_and_text_values() -> None:
    values = template.fields("hook", "", 'say "hi"', 5)
    assert json.loads(template.body(None, values)) == {"address": "hook", "value": 'say "hi"',
                                                       "ts": 5}
    assert template.render("{value_text}!", values) == 'say "hi"!'
    assert template.render("{value}", values) == '"say \\"hi\\""'


def test_url_placeholders_are_quoted() -> None:
    values = template.fields("hook", "a/b", "x y&z", 1)
    url = template.render("http://h/notify?msg={value_text}&p={path}", values, url=True)
    assert url == "http://h/notify?msg=x%20y%26z&p=a%2Fb"
