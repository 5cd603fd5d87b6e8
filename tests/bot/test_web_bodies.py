"""bot/web/bodies.py: the nesting scan that runs before any request body is parsed."""
import json

import pytest

from bot.web.bodies import BodyRefused, nesting_depth, parse_json


@pytest.mark.parametrize("text, depth", [
    ('{"a": 1}', 1),
    ('[[1], {"b": [2]}]', 3),
    ('"no brackets [[[ in a string"', 0),
    ('{"a": "a quote \\" and a backslash \\\\ then [[[ still a string"}', 1),
    ('{"a": "ends in a backslash \\\\", "b": [[]]}', 3),
    ("7", 0),
])
def test_the_depth_ignores_brackets_inside_strings(text, depth):
    json.loads(text)  # each case is real JSON
    assert nesting_depth(text.encode()) == depth


def test_a_deep_body_is_refused_before_parsing_and_a_shallow_one_parses():
    with pytest.raises(BodyRefused) as refused:
        parse_json(b"[" * 100_000)
    assert refused.value.status == 400
    assert parse_json(b'{"update_id": 5, "text": "[[[["}') == {"update_id": 5, "text": "[[[["}
    assert parse_json(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(BodyRefused):
        parse_json(b"[" * 33 + b"]" * 33)
    with pytest.raises(BodyRefused):
        parse_json(b"\xff\xfe")


def test_no_endpoint_parses_a_request_body_but_through_bodies():
    """request.json()/read()/text()/post() anywhere, or json.loads where HTTP handlers live, would skip the caps."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    request_body = re.compile(r"request\.(json|read|text|post)\(|request\.content\.read")
    json_loads = re.compile(r"json\.loads\(")
    found = []
    for folder in ("bot", "chain", "handlers", "iot"):
        for path in (root / folder).rglob("*.py"):
            name = str(path.relative_to(root))
            if name == "bot/web/bodies.py":
                continue
            http = name.startswith(("bot/web/", "bot/transports/")) and name != "bot/transports/console.py"  # stdin
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if request_body.search(line) or (http and json_loads.search(line)):
                    found.append(f"{name}:{n}")
    assert found == []
