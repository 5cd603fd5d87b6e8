"""The alert rules on their own: debounce, one alert per condition, hysteresis, reminders, admins' changes."""
from iot.rules import CRITICAL, ENDED, REMINDER, STARTED, WARNING, Rule, Rules

WATER = [Rule("water_temp_c", 18.0, 24.0, WARNING, 0.3, 60), Rule("water_temp_c", 15.0, 27.0, CRITICAL, 0.3, 30)]


def feed(rules: Rules, values: list[tuple[float, float]], device: str = "b1") -> list:
    """(at, value) readings of water temperature; the events they produce."""
    events = []
    for at, value in values:
        events += rules.observe("bronx", device, {"water_temp_c": value}, at)
    return events


def test_a_reading_out_of_band_alerts_once_after_the_debounce_then_recovers_once():
    rules = Rules(list(WATER))
    events = feed(rules, [(0, 22.0), (10, 24.6), (40, 24.8), (69, 24.9), (70, 25.0), (100, 25.1), (200, 24.5)])
    assert [(e.kind, e.at, e.condition.side) for e in events] == [(STARTED, 70, "high")]
    assert events[0].condition.rule.high == 24.0 and events[0].value == 25.0
    # At 23.8 it is inside the band but not by the hysteresis (0.3): still on; at 23.6 it is over.
    events = feed(rules, [(300, 23.8), (310, 23.6), (320, 23.5)])
    assert [(e.kind, e.at) for e in events] == [(ENDED, 310)]


def test_a_short_excursion_tells_nobody():
    rules = Rules(list(WATER))
    assert feed(rules, [(0, 25.0), (30, 25.5), (50, 23.0), (61, 25.0), (100, 23.0)]) == []


def test_critical_fires_sooner_and_is_recalled_while_it_lasts():
    rules = Rules(list(WATER), remind_seconds=600)
    events = feed(rules, [(0, 28.0), (30, 28.2)])
    assert [(e.kind, e.condition.rule.severity) for e in events] == [(STARTED, CRITICAL)]
    events = feed(rules, [(60, 28.1)])  # the warning band's debounce (60 s) is over too
    assert [(e.kind, e.condition.rule.severity) for e in events] == [(STARTED, WARNING)]
    assert rules.check(500) == []
    reminders = rules.check(631)
    assert [(e.kind, e.condition.rule.severity) for e in reminders] == [(REMINDER, CRITICAL)]
    assert rules.check(900) == []  # next one 600 s after the last
    assert len(rules.check(1231)) == 1


def test_each_device_and_each_side_is_its_own_condition():
    rules = Rules(list(WATER))
    events = feed(rules, [(0, 17.0), (61, 17.0)], device="b1") + feed(rules, [(0, 25.0), (61, 25.0)], device="b2")
    assert [(e.condition.device, e.condition.side) for e in events] == [("b1", "low"), ("b2", "high")]
    # Jumping from too cold to too warm starts over (a new debounce for the new side).
    assert feed(rules, [(100, 17.0), (120, 25.0), (150, 25.0)], device="b3") == []


def test_an_admins_new_band_applies_to_open_conditions():
    rules = Rules(list(WATER))
    assert [e.kind for e in feed(rules, [(0, 25.0), (61, 25.0)])] == [STARTED]
    rules.set_rule(Rule("water_temp_c", 18.0, 26.0, WARNING, 0.3, 60))
    assert [e.kind for e in feed(rules, [(70, 25.0)])] == [ENDED]  # 25 is safe under the new band
    assert len([r for r in rules.rules if r.key == "water_temp_c"]) == 2


def test_a_site_with_its_own_rule_uses_it_instead_of_the_general_one_of_that_severity():
    rules = Rules(list(WATER) + [Rule("water_temp_c", 10.0, 30.0, WARNING, 0.3, 60, site="annex")])
    assert rules.observe("annex", "a1", {"water_temp_c": 25.0}, 0) == []
    assert rules.observe("annex", "a1", {"water_temp_c": 25.0}, 100) == []
    # Its own warning band does not switch off the general critical one.
    events = rules.observe("annex", "a1", {"water_temp_c": 28.0}, 200) + rules.observe(
        "annex", "a1", {"water_temp_c": 28.0}, 231)
    assert [(e.kind, e.condition.rule.severity) for e in events] == [(STARTED, CRITICAL)]
    assert [e.kind for e in rules.observe("bronx", "b1", {"water_temp_c": 25.0}, 0)
            + rules.observe("bronx", "b1", {"water_temp_c": 25.0}, 100)] == [STARTED]
