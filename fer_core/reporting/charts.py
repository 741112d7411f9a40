"""Plotly figures shared by the pages."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from fer_core.labels import EMOTION_COLORS, EMOTIONS

# Plotly's toolbar shows over a chart's top right corner on hover (on a phone, on a tap). On a narrow
# screen it reaches over to the left edge and would cover the title, so titles sit in a band below it.
TOOLBAR_HEIGHT = 30


def title_below_toolbar(figure: go.Figure) -> go.Figure:
    """Move `figure`'s title below the toolbar's band, growing its top margin (and height) to match."""
    top = figure.layout.margin.t if figure.layout.margin.t is not None else 100  # plotly's default
    grown = max(0, TOOLBAR_HEIGHT + 35 - top)
    figure.update_layout(
        title={"y": 1, "yref": "container", "yanchor": "top", "pad": {"t": TOOLBAR_HEIGHT}},
        margin={"t": top + grown},
    )
    if figure.layout.height is not None:
        figure.update_layout(height=figure.layout.height + grown)
    return figure


def probability_bars(probs: np.ndarray, title: str | None = None) -> go.Figure:
    """Horizontal bars of the seven emotion probabilities, in the project's class order."""
    values = [float(p) for p in probs]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=list(EMOTIONS),
            orientation="h",
            marker_color=[EMOTION_COLORS[name] for name in EMOTIONS],
            text=[f"{v:.0%}" for v in values],
            textposition="outside",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis=dict(range=[0, 1.15], tickformat=".0%", title="probability"),
        yaxis=dict(autorange="reversed"),
        height=260,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
    )
    return title_below_toolbar(figure) if title else figure


def probability_timeline(times: np.ndarray, probs: np.ndarray, window_seconds: float = 30) -> go.Figure:
    """One line per emotion over the last `window_seconds` (times in seconds, probs (N, 7), NaN = no face)."""
    seconds = times - times[-1]
    recent = seconds >= -window_seconds
    figure = go.Figure(
        [
            go.Scatter(x=seconds[recent], y=probs[recent, i], name=name, line_color=EMOTION_COLORS[name])
            for i, name in enumerate(EMOTIONS)
        ]
    )
    figure.update_layout(
        title=f"Main face, last {window_seconds:g} s",
        xaxis=dict(range=[-window_seconds, 0], title="seconds"),
        yaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.25),
        uirevision="timeline",  # keeps the legend selection across redraws
    )
    return title_below_toolbar(figure)


def face_timeline(times: np.ndarray, probs: np.ndarray, title: str) -> go.Figure:
    """One line per emotion over a whole clip (times in seconds, probs (N, 7))."""
    figure = go.Figure(
        [
            go.Scatter(x=times, y=probs[:, i], name=name, line_color=EMOTION_COLORS[name])
            for i, name in enumerate(EMOTIONS)
        ]
    )
    figure.update_layout(
        title=title,
        xaxis=dict(title="seconds into the video"),
        yaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.3),
    )
    return title_below_toolbar(figure)
