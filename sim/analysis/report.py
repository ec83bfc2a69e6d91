"""Self-contained HTML reports (charts embedded as PNG): the pieces every report shares.

Used by the comparison, calibration, sensitivity and discovery reports: one style, one page a
teacher can project, readable offline, with the numbers also written as CSV beside it.
"""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import UTC, datetime

import matplotlib.pyplot as plt
import pandas as pd

#: The reports' stylesheet (plain CSS: braces are literal, so insert it with a placeholder, not an f-string).
CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } .card { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 1em; margin: 0.6em 0; }
.meta { color: #666; font-size: 0.85em; } img { max-width: 100%; }
table.data { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
table.data th, table.data td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; }
.ok { background: #e8f5e9; border: 1px solid #9ccc9c; border-radius: 6px; padding: 0.5em 1em; }
.warn { background: #fff3cd; border: 1px solid #e0c060; border-radius: 6px; padding: 0.5em 1em; }
"""


def markdown(text: str) -> str:
    """The small Markdown subset used in scenario descriptions: paragraphs, **bold**, `code`."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        body = html.escape(" ".join(para.split()))
        body = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", body)
        body = re.sub(r"`(.+?)`", r"<code>\1</code>", body)
        out.append(f"<p>{body}</p>")
    return "\n".join(out)


def png(fig: plt.Figure) -> str:
    """A figure as a base64 PNG for an ``<img src="data:...">``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def image(fig: plt.Figure, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png(fig)}">'


def number(x: float, digits: int = 4) -> str:
    """A number as a reader wants it: 8,630 rather than 8630.173185 or 8.63e+03; 0.0123 rather than 1.23e-02."""
    if x != x:  # NaN
        return ""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}g}"


def table(frame: pd.DataFrame, digits: int = 4) -> str:
    if frame.empty:
        return "<p><em>none</em></p>"
    frame = frame.dropna(axis=1, how="all")
    return frame.to_html(index=False, escape=True, border=0, classes="data", na_rep="",
                         float_format=lambda x: number(x, digits))


def note(text: str, ok: bool) -> str:
    return f"<p class='{'ok' if ok else 'warn'}'>{html.escape(text)}</p>"


def scenario_card(title: str, name: str, description: str, meta: str) -> str:
    return (f"<section class='card'><h3>{html.escape(title)} <code>{html.escape(name)}</code></h3>"
            f"{markdown(description or '')}<p class='meta'>{html.escape(meta)}</p></section>")


def page(title: str, made_by: str, body: str) -> str:
    """The whole document."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">Made by <code>{html.escape(made_by)}</code> on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from stored
results.</p>
{body}
</body></html>
"""


def slug(text: str, width: int = 60) -> str:
    """A file-name-safe form of an outcome or condition."""
    out = text.replace("==", " eq ").replace("!=", " ne ").replace(">=", " ge ").replace("<=", " le ")
    out = out.replace(">", " gt ").replace("<", " lt ")
    return re.sub(r"[^A-Za-z0-9]+", "-", out).strip("-")[:width] or "outcome"
