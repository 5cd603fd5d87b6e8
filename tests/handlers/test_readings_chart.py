"""The /readings chart's axes: a new board's first minutes fill the chart; symbols keep their case."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import matplotlib.dates as mdates
import pytest

from handlers.readings import CHARTED, chart_figure
from locales import Translator

NOW = datetime(2025, 6, 1, 15, 0)
SPAN = (NOW - timedelta(hours=24), NOW)
ZONE = ZoneInfo("America/New_York")


def x_range(points) -> tuple[datetime, datetime]:
    chart = chart_figure(Translator("en"), "bronx", {"temp_c": [("rack1", points)]}, {"temp_c": None}, SPAN, ZONE)
    low, high = chart.axes[0].get_xlim()
    return tuple(mdates.num2date(x, tz=ZONE).astimezone(ZoneInfo("UTC")).replace(tzinfo=None) for x in (low, high))


def test_a_board_heard_for_twenty_minutes_fills_the_chart_from_its_first_reading():
    points = [(NOW - timedelta(minutes=20) + timedelta(minutes=i), 21.0 + i / 10) for i in range(21)]
    start, end = x_range(points)
    assert abs(start - (NOW - timedelta(minutes=20))) < timedelta(seconds=1)
    assert abs(end - NOW) < timedelta(seconds=1)


def test_a_board_heard_for_a_moment_gets_ten_minutes_of_axis():
    start, _ = x_range([(NOW - timedelta(seconds=30), 21.0)])
    assert abs(start - (NOW - timedelta(minutes=10))) < timedelta(seconds=1)


def test_with_more_than_a_day_of_data_the_axis_is_the_last_24_hours():
    start, _ = x_range([(NOW - timedelta(hours=30), 20.0), (NOW - timedelta(hours=1), 21.0)])
    assert abs(start - SPAN[0]) < timedelta(seconds=1)


@pytest.mark.parametrize("lang", ["en", "es", "bn", "fr"])
def test_ph_and_ec_keep_their_case_on_the_axis(lang):
    points = [(NOW - timedelta(hours=1), 6.0)]
    chart = chart_figure(Translator(lang), "bronx", {key: [("rack1", points)] for key in CHARTED},
                         {key: None for key in CHARTED}, SPAN, ZONE)
    labels = [ax.yaxis.label.get_text() for ax in chart.axes]
    assert labels[CHARTED.index("ph")] == "pH"
    assert labels[CHARTED.index("ec_ms_cm")] == "EC (mS/cm)"
