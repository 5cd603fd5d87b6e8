"""Alert rules: when a reading is out of its safe band long enough to tell people, and when it is back.

A rule is a band (low, high) for one reading at a site, with a severity. A condition starts when the
reading leaves the band and stays out for at least `for_seconds` (debounce: one odd reading tells nobody);
it fires once, and ends when the reading is back inside the band by the rule's `hysteresis` (a value
hovering at the edge does not flap). A critical condition that lasts is recalled every `remind_seconds`.
Nothing here knows about people, languages or time zones: iot/alerts.py delivers what this decides.
"""
from dataclasses import dataclass, field, replace

WARNING, CRITICAL = "warning", "critical"
LOW, HIGH = "low", "high"
ANY_SITE = "*"  # a rule for every site that has none of its own


@dataclass(frozen=True)
class Rule:
    key: str  # the reading: temp_c, rh_pct, water_temp_c, ph, ec_ms_cm, water_level_pct, lux
    low: float | None
    high: float | None
    severity: str = WARNING
    hysteresis: float = 0.0
    for_seconds: float = 60.0
    site: str = ANY_SITE

    def side(self, value: float) -> str | None:
        """LOW or HIGH when `value` is outside the band, else None."""
        if self.low is not None and value < self.low:
            return LOW
        if self.high is not None and value > self.high:
            return HIGH
        return None

    def recovered(self, value: float, side: str) -> bool:
        """Back inside by the hysteresis, on the side it left."""
        bound = self.low if side == LOW else self.high
        if bound is None:  # the rule no longer has that side (an admin changed it)
            return True
        return value >= bound + self.hysteresis if side == LOW else value <= bound - self.hysteresis


# Lettuce and herbs in hydroponics: the safe bands warn; the wider ones are critical (act now).
DEFAULT_RULES = (
    Rule("temp_c", 18.0, 27.0, WARNING, 0.5, 300),
    Rule("temp_c", 12.0, 32.0, CRITICAL, 0.5, 120),
    Rule("rh_pct", 40.0, 75.0, WARNING, 3.0, 600),
    Rule("rh_pct", 25.0, 90.0, CRITICAL, 3.0, 300),
    Rule("water_temp_c", 18.0, 24.0, WARNING, 0.3, 300),
    Rule("water_temp_c", 15.0, 27.0, CRITICAL, 0.3, 120),
    Rule("ph", 5.5, 6.5, WARNING, 0.1, 600),
    Rule("ph", 5.0, 7.0, CRITICAL, 0.1, 300),
    Rule("ec_ms_cm", 1.2, 2.4, WARNING, 0.05, 600),
    Rule("ec_ms_cm", 0.8, 3.0, CRITICAL, 0.05, 300),
)


@dataclass(frozen=True)
class Condition:
    """Where one rule stands for one device: out since `since` (not yet told) or `firing`."""

    site: str
    device: str
    rule: Rule
    side: str
    since: float  # when the reading left the band
    value: float  # the latest value out of the band (the worst is not kept: people act on the latest)
    firing: bool = False
    started: float | None = None  # when it fired
    reminded: float | None = None  # when it was last recalled (critical only)


@dataclass(frozen=True)
class Event:
    kind: str  # started | ended | reminder
    condition: Condition
    value: float
    at: float


STARTED, ENDED, REMINDER = "started", "ended", "reminder"


@dataclass
class Rules:
    """The rules in force and every device's open conditions. `observe` is called with each new reading
    (in order per device); `check` regularly, for reminders."""

    rules: list[Rule] = field(default_factory=lambda: list(DEFAULT_RULES))
    remind_seconds: float = 3600.0
    open: dict[tuple[str, str, str, str], Condition] = field(default_factory=dict)  # site, device, key, severity

    def rules_for(self, site: str, key: str) -> list[Rule]:
        """For each severity: the site's own rule for `key` where it has one, else the rule for every site."""
        found = []
        for severity in (WARNING, CRITICAL):
            same = [r for r in self.rules if r.key == key and r.severity == severity]
            found += [r for r in same if r.site == site] or [r for r in same if r.site == ANY_SITE]
        return found

    def observe(self, site: str, device: str, readings: dict[str, float], at: float) -> list[Event]:
        events = []
        for key, value in readings.items():
            for rule in self.rules_for(site, key):
                event = self._step(site, device, rule, value, at)
                if event is not None:
                    events.append(event)
        return events

    def _step(self, site: str, device: str, rule: Rule, value: float, at: float) -> Event | None:
        slot = (site, device, rule.key, rule.severity)
        condition = self.open.get(slot)
        side = rule.side(value)
        if condition is None:
            if side is not None:
                self.open[slot] = Condition(site, device, rule, side, at, value)
            return None
        condition = replace(condition, rule=rule)  # an admin may have changed the band meanwhile
        if not condition.firing:
            if side is None:
                del self.open[slot]  # back before anyone was told
            elif side != condition.side:
                self.open[slot] = Condition(site, device, rule, side, at, value)
            elif at - condition.since >= rule.for_seconds:
                fired = replace(condition, value=value, firing=True, started=at, reminded=at)
                self.open[slot] = fired
                return Event(STARTED, fired, value, at)
            else:
                self.open[slot] = replace(condition, value=value)
            return None
        if rule.recovered(value, condition.side):
            del self.open[slot]
            return Event(ENDED, condition, value, at)
        self.open[slot] = replace(condition, value=value)
        return None

    def check(self, now: float) -> list[Event]:
        """Reminders for critical conditions that still last."""
        events = []
        for slot, condition in self.open.items():
            if (condition.firing and condition.rule.severity == CRITICAL
                    and now - condition.reminded >= self.remind_seconds):
                self.open[slot] = replace(condition, reminded=now)
                events.append(Event(REMINDER, self.open[slot], condition.value, now))
        return events

    def set_rule(self, rule: Rule) -> None:
        """Replaces the rule for the same site, reading and severity (an admin's change)."""
        self.rules = [r for r in self.rules if (r.site, r.key, r.severity) != (rule.site, rule.key, rule.severity)]
        self.rules.append(rule)
