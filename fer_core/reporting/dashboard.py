"""What the training dashboard draws from a model's stored files: its figures, tables and wording.

The page (`pages/dashboard.py`) reads widgets and shows what these functions return; nothing here
recomputes a model's results.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from fer_core.labels import EMOTIONS
from fer_core.reporting.artifacts import History, ModelCard, ModelRun, average_scores
from fer_core.reporting.charts import title_below_toolbar
from fer_core.reporting.evaluation import Evaluation

TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#ff7f0e"
# One colour per run when several are drawn (an ensemble's members, a compared run): plotly's own cycle.
RUN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
# Below the chart, clear of the x axis' title: beside it, it squeezes a phone's chart.
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0}


def curves_figure(
    title: str, metrics: dict[str, str], runs: dict[str, History], best_epoch: int | None, log_y: bool = False
) -> go.Figure:
    """One line per (run, metric). One run: a colour per metric. Several: a colour per run, and the
    metrics told apart by dash (the first solid, the next dashed). With `log_y` the y axis turns
    logarithmic when the values span more than a factor of 20 (seconds per epoch on a GPU and on a CPU),
    so the fast epochs are not drawn flat at zero."""
    figure = go.Figure()
    for i, (run_name, history) in enumerate(runs.items()):
        for j, (metric, label) in enumerate(metrics.items()):
            if history.has(metric):
                single = len(runs) == 1
                color = (TRAIN_COLOR, TEST_COLOR)[j] if single else RUN_COLORS[i % len(RUN_COLORS)]
                figure.add_scatter(
                    x=history.epochs,
                    y=getattr(history, metric),
                    name=label if single else f"{run_name}: {label}",
                    mode="lines+markers" if len(history.epochs) <= 40 else "lines",
                    line={"color": color, "dash": "solid" if single or j == 0 else "dash"},
                    marker={"size": 4},
                    connectgaps=True,  # a validation score recorded every few epochs is one line, not dots
                )
    # whole epochs only: plotly would put ticks at 1.5, 2.5 on a short run
    figure.update_xaxes(title="epoch", dtick=1 if max(len(h.epochs) for h in runs.values()) <= 15 else None)
    values = [v for h in runs.values() for m in metrics if h.has(m) for v in getattr(h, m) if v]
    if log_y and values and min(values) > 0 and max(values) / min(values) > 20:
        figure.update_yaxes(type="log", dtick=1)  # ticks at 1, 10, 100 ... only
    if best_epoch is not None:
        figure.add_vline(x=best_epoch, line_dash="dot", line_color="gray", annotation_text=f"best epoch {best_epoch}")
    rows = sum(history.has(metric) for history in runs.values() for metric in metrics)
    legend_room = 22 * max(1, (rows + 1) // 2)  # the legend's rows below the axis title
    figure.update_layout(
        title=title, height=300 + legend_room, margin={"t": 50, "b": 60 + legend_room}, legend=LEGEND_BELOW
    )
    return title_below_toolbar(figure)


def confusion_figure(evaluation: Evaluation, rates: bool) -> go.Figure:
    counts = evaluation.confusion_matrix
    row_rates = [[count / max(sum(row), 1) for count in row] for row in counts]
    text = [[f"{rate:.0%}" for rate in row] for row in row_rates] if rates else counts
    figure = go.Figure(
        go.Heatmap(
            z=row_rates if rates else counts,
            x=evaluation.labels,
            y=evaluation.labels,
            text=text,
            texttemplate="%{text}",
            customdata=row_rates,
            hovertemplate="true %{y}, predicted %{x}: %{z}<br>%{customdata:.1%} of the true %{y} faces<extra></extra>",
            colorscale="Blues",
            zmin=0 if rates else None,
            zmax=1 if rates else None,
        )
    )
    title = "Confusion matrix (share of each true class)" if rates else "Confusion matrix (test faces)"
    figure.update_layout(
        title=title, xaxis_title="predicted", yaxis_title="true", height=520, yaxis_autorange="reversed"
    )
    return title_below_toolbar(figure)


def scores_table(evaluation: Evaluation) -> pd.DataFrame:
    scores = {**evaluation.per_class, **average_scores(evaluation)}
    return pd.DataFrame(
        [[s.precision, s.recall, s.f1, s.support] for s in scores.values()],
        index=list(scores),
        columns=["precision", "recall", "F1", "support"],
    )


def scores_figure(evaluation: Evaluation) -> go.Figure:
    figure = go.Figure()
    for metric in ("precision", "recall", "f1"):
        values = [getattr(evaluation.per_class[label], metric) for label in evaluation.labels]
        figure.add_bar(x=evaluation.labels, y=values, name=metric.replace("f1", "F1"))
    figure.update_layout(title="Per-class scores", yaxis_range=[0, 1], height=380, barmode="group", legend=LEGEND_BELOW)
    return title_below_toolbar(figure)


def counts_figure(train: dict[str, int], test: dict[str, int]) -> go.Figure:
    figure = go.Figure()
    highest = 0
    for name, counts, color in (("train", train, TRAIN_COLOR), ("test", test, TEST_COLOR)):
        if counts:
            labels = [label for label in EMOTIONS if label in counts]
            total = max(sum(counts.values()), 1)
            shares = [f"{counts[label] / total:.1%}" for label in labels]
            values = [counts[label] for label in labels]
            highest = max(highest, *values)
            figure.add_bar(x=labels, y=values, name=name, marker_color=color, text=shares, textposition="outside")
    # upright shares keep a readable size over bars as narrow as a phone makes them; the axis reaches
    # far enough above the tallest bar for its label to fit
    figure.update_traces(textangle=-90, constraintext="none", textfont_size=11, cliponaxis=False)
    figure.update_yaxes(range=[0, highest * 1.3 or 1])
    figure.update_layout(title="Images per class", barmode="group", height=380, legend=LEGEND_BELOW)
    return title_below_toolbar(figure)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def with_totals(own: str | None, total: str | int | None, stages: int) -> str | int | None:
    """A run's own figure, and the sum over every training stage behind the model when there were several."""
    if total is None or (stages <= 1 and own is not None):
        return own
    whole = f"{total} in all ({stages} training stages)" if stages > 1 else total
    return f"{own}; {whole}" if own else whole


def date(text: str | None) -> str | None:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M %Z").strip() if text else None
    except ValueError:
        return text


def started_from(card: ModelCard) -> str | None:
    """The trained model a run started from, as its recipe names it (None: from scratch)."""
    stages = card.config.get("stages")
    first = stages[0] if isinstance(stages, list) and stages and isinstance(stages[0], dict) else card.config
    start = first.get("init_from")
    return str(start) if start else None


def lineage(card: ModelCard) -> str | None:
    """A sentence on how the curves were made, when more than one training stage made them."""
    if card.members or len(card.stages) < 2:
        start = started_from(card)
        return f"Fine-tuned: epoch 1 started from the weights of `{start}`, not from scratch." if start else None
    parts = []
    for number, stage in enumerate(card.stages, start=1):
        where = f" on {stage['hardware']}" if stage.get("hardware") else ""
        origin = "from scratch" if number == 1 and not started_from(card) else "from the stage before"
        parts.append(f"stage {number}: {stage.get('epochs', '?')} epochs {origin}{where}")
    return f"Trained in {len(parts)} stages: " + "; ".join(parts) + "."


def real_photos_text(real: dict) -> str:
    """What a card says of the real photos a model (or each member of an ensemble) trained on."""
    if "folder" not in real:  # an ensemble's: member -> facts
        return "; ".join(f"{member}: {real_photos_text(facts)}" for member, facts in real.items())
    listed = real.get("trained_on")
    trained = f"{real['folder']}, every photo"
    if isinstance(listed, dict):
        trained = f"{listed['photos']} photos of {real['folder']} ({listed['list']})"
    scores, held = real.get("held_out_scores"), real.get("held_out")
    if scores and isinstance(held, dict):
        return (
            f"{trained}; on {held['photos']} held-out photos of other people, {scores['accuracy']:.1%} "
            f"(macro-F1 {scores['macro_f1']:.3f})"
        )
    return trained


# What ran a model when its card was written (`Classifier.engine`), in words.
ENGINES = {
    "litert-int8": "its networks in 8-bit integers, LiteRT",
    "opencv": "OpenCV",
    "tensorflow": "TensorFlow",
}


def card_facts(card: ModelCard, run: ModelRun) -> dict[str, object]:
    """The model card's table: label -> value (None where the card does not record it)."""
    total_time = duration(card.total_training_seconds) if card.total_training_seconds is not None else None
    if card.epochs_run is None:
        epochs = None
    elif card.kept:
        epochs = f"{card.epochs_run} (kept: {card.kept})"
    else:
        epochs = f"{card.epochs_run} (best: {run.best_epoch})"
    facts = {
        "Architecture": card.architecture,
        "Parameters": f"{card.parameters:,}" if card.parameters is not None else None,
        "File size": f"{card.file_size_bytes / 1e6:.1f} MB" if card.file_size_bytes is not None else None,
        "Input": card.input,
        "Epochs": with_totals(epochs, card.total_epochs, len(card.stages)),
        "Training time": with_totals(
            duration(card.training_seconds) if card.training_seconds is not None else None,
            total_time,
            len(card.stages),
        ),
        "Hardware": card.hardware,
        "Data": card.data.path,
        "Trained": date(card.finished or card.trained),
        "Test accuracy": f"{card.test_accuracy:.2%}" if card.test_accuracy is not None else None,
        "Test macro F1": f"{card.test_macro_f1:.3f}" if card.test_macro_f1 is not None else None,
        "Time per face": f"{card.ms_per_face:.1f} ms" if card.ms_per_face is not None else None,
    }
    if card.engine and facts["Time per face"]:
        facts["Time per face"] += f" ({ENGINES.get(card.engine, card.engine)})"
    if card.real_photos:
        facts["Real photos"] = real_photos_text(card.real_photos)
    if card.unsure_below:
        facts["Shown as unsure"] = f"top probability under {card.unsure_below:.0%}"
    if card.members:
        facts = {"Architecture": facts.pop("Architecture"), "Members": ", ".join(card.members), **facts}
    if started_from(card):
        facts = {**facts, "Started from": started_from(card)}
    return facts
