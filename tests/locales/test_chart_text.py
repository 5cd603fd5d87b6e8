"""The /readings chart's texts in the member's language: Bengali drawn with a Bengali font, shaped."""
import warnings
from datetime import datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image, ImageDraw, ImageFont, features

from handlers.readings import CHARTED, chart_figure, draw
from iot.rules import WARNING, Rules
from locales import Translator

NOW = datetime(2025, 6, 1, 15, 0)
SPAN = (NOW - timedelta(hours=24), NOW)
POINTS = [(NOW - timedelta(minutes=30 * i), 20 + i % 5) for i in range(48)][::-1]
ZONE = ZoneInfo("America/New_York")
FONT = resources.files("locales") / "fonts" / "NotoSansBengali-Regular.ttf"


def chart_args(lang: str, site: str, keys: tuple[str, ...]) -> tuple:
    """draw's arguments but the path: one sensor on every panel, the site's warning bands."""
    rules = Rules()
    bands = {key: next((r for r in rules.rules_for(site, key) if r.severity == WARNING), None) for key in keys}
    return Translator(lang), site, {key: [("rack1", POINTS)] for key in keys}, bands, SPAN, ZONE


def figure(lang: str, site: str, keys: tuple[str, ...]):
    return chart_figure(*chart_args(lang, site, keys))


def test_bengali_chart_has_every_glyph(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph 2487 (...) missing from font(s) DejaVu Sans."
        draw(*chart_args("bn", "bronx", CHARTED), tmp_path / "bn.png")
    assert (tmp_path / "bn.png").stat().st_size > 10_000


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_other_languages_keep_the_default_font(lang):
    chart = figure(lang, "bronx", keys=("temp_c",))
    texts = [chart.axes[0].yaxis.label, chart.axes[0].xaxis.label, *chart.texts]
    assert {tuple(text.get_fontfamily()) for text in texts} == {("sans-serif",)}


def _ink(gray: np.ndarray) -> np.ndarray:
    """Where a grey image (255 = paper) is inked, cropped to the ink."""
    inked = gray < 128
    rows, cols = np.nonzero(inked)
    return inked[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _pillow(text: str, pixels: float, layout: ImageFont.Layout) -> np.ndarray:
    font = ImageFont.truetype(str(FONT), pixels, layout_engine=layout)
    image = Image.new("L", (40 + int(pixels * len(text)), 4 * int(pixels)), 255)
    ImageDraw.Draw(image).text((20, int(pixels)), text, font=font, fill=0)
    return _ink(np.asarray(image))


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask and every pixel next to it (diagonals too)."""
    padded = np.pad(mask, 1)
    return np.logical_or.reduce([padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
                                 for dy in range(3) for dx in range(3)])


def _likeness(a: np.ndarray, b: np.ndarray, slack: int = 2) -> float:
    """How much of each ink mask lies within a pixel of the other's (the smaller share), at the best shift of up
    to slack pixels: hinted (Pillow) and unhinted (matplotlib) glyphs differ by a pixel at their edges."""
    height, width = max(a.shape[0], b.shape[0]) + 2 * slack, max(a.shape[1], b.shape[1]) + 2 * slack
    first = np.zeros((height, width), bool)
    first[slack:slack + a.shape[0], slack:slack + a.shape[1]] = a
    best = 0.0
    for dy in range(2 * slack + 1):
        for dx in range(2 * slack + 1):
            second = np.zeros((height, width), bool)
            second[dy:dy + b.shape[0], dx:dx + b.shape[1]] = b
            best = max(best, min((first & _grow(second)).sum() / first.sum(),
                                 (second & _grow(first)).sum() / second.sum()))
    return best


@pytest.mark.skipif(not features.check("raqm"), reason="the reference needs Pillow with libraqm")
def test_bengali_texts_are_shaped_like_pillow_draws_them():
    # The site "১" keeps the title in the Bengali font alone, so Pillow (one font, no fallback) can draw it too.
    chart = figure("bn", "১", keys=("rh_pct",))
    title = next(text for text in chart.texts if text.get_text() == "চাষের ঘর ১, গত ২৪ ঘণ্টা")
    label = chart.axes[0].yaxis.label
    assert label.get_text() == "আর্দ্রতা (%)"  # ra, hasanta, da, hasanta, ra: reph above, ra-phala below
    # Large, so hinting (Pillow) against none (matplotlib) moves edges by a pixel, not whole glyphs.
    for text in (title, label):
        text.set_fontsize(36)
    chart.set_size_inches(12, 6)
    chart.tight_layout()
    canvas = FigureCanvasAgg(chart)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3].min(axis=2)
    for text, quarter_turns in ((title, 0), (label, 1)):
        box = text.get_window_extent(canvas.get_renderer())
        top, bottom = len(pixels) - int(box.y1) - 2, len(pixels) - int(box.y0) + 2
        drawn = _ink(np.rot90(pixels[max(top, 0):bottom, max(int(box.x0) - 2, 0):int(box.x1) + 2], -quarter_turns))
        size = text.get_fontsize() * chart.dpi / 72
        shaped = _pillow(text.get_text(), size, ImageFont.Layout.RAQM)
        unshaped = _pillow(text.get_text(), size, ImageFont.Layout.BASIC)
        # Unshaped, ি and ে come after their consonant and conjuncts fall apart: a line drawn so would fail here.
        assert _likeness(shaped, unshaped) < 0.95
        assert abs(drawn.shape[0] - shaped.shape[0]) <= 2 and abs(drawn.shape[1] - shaped.shape[1]) <= 3, text
        assert _likeness(drawn, shaped) > 0.97, text
