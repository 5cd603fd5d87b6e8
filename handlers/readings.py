"""/readings: the latest value of each reading per sensor with its age (one outside its safe band marked, with
the band), and a chart of the last 24 hours with the safe band shaded, labelled in the member's language."""
import asyncio
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from handlers.alerts import UNITS, safe_text, value_text, waiting_text
from handlers.base import Context, Reply
from iot.rules import WARNING, Rule
from iot.store import LatestReading, latest, series
from locales import Translator, format_clock, format_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHARTED = ("temp_c", "rh_pct", "water_temp_c", "ph", "ec_ms_cm")  # in this order, those a site reports
HOURS = 24
MIN_SPAN = timedelta(minutes=10)  # a board heard for a minute still gets an axis one can read
SYMBOLS = ("ph", "ec_ms_cm")  # written the same in every language, and never capitalized ("pH", not "PH")
MAX_LINES = 8  # sensors on one chart
CHARTS_DIR = "charts"  # in the data dir; bot/sensors.py sweeps charts older than an hour
DPI = 110
# Languages whose script matplotlib's own font (DejaVu Sans) lacks: the font for it we ship in locales/fonts/.
SCRIPT_FONTS = {"bn": ("Noto Sans Bengali", "NotoSansBengali-Regular.ttf")}

_fonts_added: set[str] = set()
_fonts_lock = threading.Lock()  # charts are drawn in threads


def age_text(ctx: Context, seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    if minutes < 1:
        return ctx.t("just now")
    if minutes < 120:
        return ctx.tn("{count} minute ago", "{count} minutes ago", minutes, count=format_number(minutes, ctx.lang))
    hours = minutes // 60
    return ctx.tn("{count} hour ago", "{count} hours ago", hours, count=format_number(hours, ctx.lang))


def short_name(tr: Translator, key: str) -> str:
    """A reading's name in a list or on an axis: "air", "water"."""
    return {"temp_c": tr.t("air"), "rh_pct": tr.t("humidity"), "water_temp_c": tr.t("water"), "ph": "pH",
            "ec_ms_cm": "EC", "water_level_pct": tr.t("water level"), "lux": tr.t("light")}.get(key, key)


def _order(key: str) -> int:
    keys = CHARTED + ("water_level_pct", "lux")
    return keys.index(key) if key in keys else len(keys)


async def readings(ctx: Context, args: list[str]) -> list[Reply]:
    """/readings [SITE]: every sensor's latest values (by site when there are several), and the chart of one
    site: the one named, else the one heard from last."""
    rows = await latest(ctx.services.sessions, args[0] if args else None)
    if not rows:
        return [ctx.reply(ctx.t("No sensor readings yet."))]
    by_device: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        by_device[(row.site, row.device)].append(row)
    sites = sorted({site for site, _ in by_device})
    now = time.time()
    lines = [ctx.t("Latest readings:")]
    for site in sites:
        if len(sites) > 1:
            lines.append(ctx.t("Site {site}:", site=site))
        for (_, device), found in sorted(item for item in by_device.items() if item[0][0] == site):
            values = " · ".join(_value(ctx, site, r) for r in sorted(found, key=lambda r: _order(r.key))
                                if r.key in UNITS)
            newest = max(r.ts for r in found).replace(tzinfo=timezone.utc).timestamp()
            lines.append(ctx.t("Sensor {device}: {values} ({age}).", device=device, values=values,
                               age=age_text(ctx, now - newest)))
    if waiting := await waiting_text(ctx):
        lines.append(waiting)
    charted = max(rows, key=lambda r: r.ts).site
    chart = await _chart(ctx, charted, sorted(device for site, device in by_device if site == charted))
    return [ctx.reply("\n".join(lines), image=str(chart) if chart else None)]


def _value(ctx: Context, site: str, row: LatestReading) -> str:
    """"air 22.0 °C"; outside its safe band: "⚠️ air 30.7 °C (safe 18.0–27.0 °C)"."""
    text = f"{short_name(ctx.translator, row.key)} {value_text(row.key, row.value, ctx.lang)}"
    band = _band(ctx, site, row.key)
    if band is None or band.side(row.value) is None:
        return text
    return f"⚠️ {text} ({safe_text(ctx.translator, band)})"


def _band(ctx: Context, site: str, key: str) -> Rule | None:
    """The reading's safe (warning) band at the site, if it has one."""
    return next((r for r in ctx.services.alerts.rules.rules_for(site, key) if r.severity == WARNING), None)


async def _chart(ctx: Context, site: str, devices: list[str]) -> Path | None:
    """The last 24 h of the site's charted readings, one panel per reading, one line per sensor."""
    until = datetime.now(timezone.utc).replace(tzinfo=None)
    since = until - timedelta(hours=HOURS)
    panels: dict[str, list] = {}
    for key in CHARTED:
        lines = []
        for device in devices[:MAX_LINES]:
            points = await series(ctx.services.sessions, site, device, key, since)
            if points:
                lines.append((device, points))
        if lines:
            panels[key] = lines
    if not panels:
        return None
    folder = ctx.services.settings.data_dir / CHARTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"readings-{ctx.member.id}-{int(time.time() * 1000)}.png"
    bands = {key: _band(ctx, site, key) for key in panels}
    # Drawing takes a good part of a second: off the event loop (Figure, not pyplot, is safe in a thread).
    await asyncio.to_thread(draw, ctx.translator, site, panels, bands, (since, until),
                            ZoneInfo(ctx.services.settings.timezone), path)
    return path


def chart_font(lang: str) -> dict:
    """Font keyword arguments for the chart's texts in lang: none (matplotlib's default) unless its script needs ours.

    Matplotlib (3.11 and later, with libraqm) shapes the text: Bengali vowel signs reordered, conjuncts formed. The
    script's font comes first so digits and punctuation match its letters; the default family after it draws what
    it lacks (Latin site names and time zones, "°")."""
    found = SCRIPT_FONTS.get(lang)
    if found is None:
        return {}
    family, filename = found
    with _fonts_lock:
        if family not in _fonts_added:
            from matplotlib import font_manager

            # Added on first use, not at import: importing a module has no side effects.
            font_manager.fontManager.addfont(str(resources.files("locales") / "fonts" / filename))
            _fonts_added.add(family)
    return {"family": [family, "sans-serif"]}


def draw(tr: Translator, site: str, panels: dict[str, list], bands: dict, span: tuple[datetime, datetime],
         zone: ZoneInfo, path: Path) -> None:
    chart_figure(tr, site, panels, bands, span, zone).savefig(path, dpi=DPI)


def chart_figure(tr: Translator, site: str, panels: dict[str, list], bands: dict, span: tuple[datetime, datetime],
                 zone: ZoneInfo) -> "Figure":
    """The chart as a matplotlib Figure (draw saves it), one panel per reading, one line per sensor."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    def local(moment: datetime) -> datetime:
        return moment.replace(tzinfo=timezone.utc).astimezone(zone)

    font = chart_font(tr.lang)
    figure = Figure(figsize=(7, 2.1 * len(panels) + 0.9))
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    devices = sorted({device for lines in panels.values() for device, _ in lines})
    colors = {device: f"C{i}" for i, device in enumerate(devices)}  # the same sensor, the same colour
    for ax, (key, lines) in zip(axes, panels.items()):
        band = bands[key]
        if band is not None and band.low is not None and band.high is not None:
            ax.axhspan(band.low, band.high, color="#2e7d32", alpha=0.12, lw=0)
        for device, points in lines:
            ax.plot([local(t) for t, _ in points], [v for _, v in points], lw=1.4, color=colors[device], label=device)
        unit = UNITS.get(key, "").strip()
        name = short_name(tr, key)
        name = name if key in SYMBOLS else name[:1].upper() + name[1:]
        ax.set_ylabel(name + (f" ({unit})" if unit else ""), fontsize=9, **font)
        ax.grid(alpha=0.3)
    # Less than a day of data: the axis starts at the first reading, not with a day of blank before it.
    first = min(t for lines in panels.values() for _, points in lines for t, _ in points)
    axes[-1].set_xlim(local(max(span[0], min(first, span[1] - MIN_SPAN))), local(span[1]))
    # Tick labels the member's way too: "22,5" in es and fr, Bengali digits in bn.
    axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_clock(mdates.num2date(x, tz=zone), tr.lang)))
    for ax in axes:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: format_number(Decimal(f"{y:g}"), tr.lang)))
        if font:
            ax.tick_params(labelfontfamily=font["family"][0])
    axes[-1].set_xlabel(tr.t("Time ({zone}); shaded: the safe range", zone=str(zone)), fontsize=8, **font)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", fontsize=8, ncols=min(len(devices), 4), frameon=False)
    figure.suptitle(tr.t("Grow room {site}, last 24 hours", site=site), fontsize=11, x=0.02, ha="left", **font)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    return figure
