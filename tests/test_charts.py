"""The pages' plotly figures: titles stay readable where plotly's toolbar shows, phones included."""

import numpy as np

from fer_core.reporting.charts import TOOLBAR_HEIGHT, face_timeline, probability_bars, probability_timeline


def title_clear_of_toolbar(layout) -> bool:
    """Title hung from the chart's top edge below the toolbar's band, with the plot starting below the title."""
    title = layout.title
    placed = (title.yref, title.y, title.yanchor) == ("container", 1, "top") and title.pad.t >= TOOLBAR_HEIGHT
    return placed and layout.margin.t >= TOOLBAR_HEIGHT + 30


def test_every_titled_chart_keeps_its_title_below_the_toolbar():
    probs = np.full((5, 7), 1 / 7)
    figures = [
        probability_bars(probs[0], "Face 1: happy (87%)"),
        probability_timeline(np.arange(5.0), probs),
        face_timeline(np.arange(5.0), probs, "Face #1"),
    ]
    assert all(title_clear_of_toolbar(figure.layout) for figure in figures)


def test_an_untitled_chart_wastes_no_room():
    assert probability_bars(np.full(7, 1 / 7)).layout.margin.t == 10
