"""Training dashboard: everything stored about a trained model, to decide whether to trust it.

Draws the files in `models/<run>/` as they are; nothing is recomputed at page load. Only
the gallery of mistakes runs the model, on demand, when a data folder is given.
"""

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from fer_core.datasets import DatasetError, load_split
from fer_core.labels import EMOTIONS
from fer_core.model.classifier import DEFAULT_MODEL, MODELS_DIR, ModelError
from fer_core.paths import shown_path
from fer_core.reporting.artifacts import (
    CARD_FILE,
    EVALUATION_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    History,
    Mistake,
    find_mistakes,
    list_runs,
    read_run,
)
from fer_core.reporting.dashboard import (
    card_facts,
    confusion_figure,
    counts_figure,
    curves_figure,
    lineage,
    scores_figure,
    scores_table,
)
from fer_core.reporting.valence import group_evaluation
from fer_core.resources import LIVE_MODEL, load_pipeline, run_inside_app

run_inside_app()

GALLERY_SIZE = 24
UNAVAILABLE = "Not available: see the message about `{}` at the top of the page."
ROLES = {
    DEFAULT_MODEL.name: "The photo model: the photo page and the command line read faces with it.",
    LIVE_MODEL.parent.name: "The live model: the live page and video files read faces with it, one view per face.",
}


@st.cache_data(show_spinner="Classifying the test set ...", max_entries=4)
def mistakes_on_test_set(model_path: str, data: str) -> list[Mistake]:
    """The model is the app's shared copy (one per process), as on the other pages."""
    test_set = load_split(data, "test")  # first, as a wrong path is likelier than a broken model
    return find_mistakes(load_pipeline(model_path).classifier, test_set)


st.title(":material/monitoring: Training dashboard")
st.caption("What was stored about a trained model when it was trained: read it to decide whether to trust the model.")

models_dir = Path(os.environ.get("FER_MODELS_DIR") or MODELS_DIR)
runs = {path.name: path for path in list_runs(models_dir)}
if not runs:
    st.warning(
        f"No trained model in `{shown_path(models_dir)}`. "
        "Train one with `python -m fer_core train --data <FER2013 folder>` or restore `models/` from git."
    )
    st.stop()

names = list(runs)
default = names.index(DEFAULT_MODEL.name) if DEFAULT_MODEL.name in runs else 0
name = st.selectbox("Model", names, index=default) if len(runs) > 1 else names[0]
run = read_run(runs[name])
for problem in run.problems:
    (st.error if problem.damaged else st.warning)(problem.message)

evaluation, card, history = run.evaluation, run.card, run.history
st.subheader(f"Model `{run.name}`")
shipped = read_run(runs[DEFAULT_MODEL.name]).card if DEFAULT_MODEL.name in runs else None
member_of = f" It is a member of `{DEFAULT_MODEL.name}`." if shipped and run.name in shipped.members else ""
st.caption(ROLES.get(run.name, "Not served by the app." if not member_of else "") + member_of)
if evaluation:
    columns = st.columns(4)
    columns[0].metric("Test accuracy", f"{evaluation.accuracy:.1%}")
    columns[1].metric("Macro F1", f"{evaluation.macro_f1:.3f}")
    columns[2].metric("Weighted F1", f"{evaluation.weighted_f1:.3f}")
    columns[3].metric("Test faces", f"{evaluation.n:,}")

st.header("Training curves")
compared: dict[str, History] = {}
if card and card.members:
    if len(card.members) == 1:
        st.caption(f"`{run.name}` averages what `{card.members[0]}` reads in several views of each face: its curves.")
    else:
        st.caption(f"`{run.name}` averages the predictions of {len(card.members)} trained models: their curves.")
    for member in card.members:
        member_run = read_run(runs[member]) if member in runs else None
        if member_run and member_run.history:
            compared[member] = member_run.history
        else:
            st.warning(f"Member `{member}` has no readable {HISTORY_FILE} in `{shown_path(models_dir)}`.")
elif history:
    compared = {name: history}
    if card and lineage(card):
        st.caption(lineage(card))
    others = [other for other in names if other != name]
    if others:
        other = st.selectbox("Compare with", ["(none)", *others])
        if other != "(none)":
            other_run = read_run(runs[other])
            if other_run.history:
                compared[other] = other_run.history
            else:
                st.warning(f"`{other}` has no readable history.json to compare with.")
else:
    st.caption(UNAVAILABLE.format(HISTORY_FILE))
if compared:
    best_epoch = run.best_epoch if history else None
    left, right = st.columns(2)
    accuracy = {"accuracy": "train accuracy", "val_accuracy": "validation accuracy"}
    loss = {"loss": "train loss", "val_loss": "validation loss"}
    left.plotly_chart(curves_figure("Accuracy", accuracy, compared, best_epoch))
    right.plotly_chart(curves_figure("Loss", loss, compared, best_epoch))
    left, right = st.columns(2)
    if any(h.learning_rate_changed() for h in compared.values()):
        left.plotly_chart(curves_figure("Learning rate", {"learning_rate": "learning rate"}, compared, best_epoch))
    if any(h.has("seconds") for h in compared.values()):
        seconds = curves_figure("Seconds per epoch", {"seconds": "seconds"}, compared, best_epoch, log_y=True)
        right.plotly_chart(seconds)

st.header("Test results")
if evaluation:
    if evaluation.data:
        st.caption(f"Evaluated on {evaluation.n:,} faces of {evaluation.data}.")
    left, right = st.columns(2)
    grouped = left.toggle(
        "Group by valence", help="positive: happy, surprise; neutral: neutral; negative: angry, disgust, fear, sad"
    )
    rates = right.toggle("Row-normalised rates")
    shown = group_evaluation(evaluation) if grouped else evaluation
    if grouped:
        st.caption(
            f"Grouped by valence: accuracy {shown.accuracy:.1%}, macro F1 {shown.macro_f1:.3f}, "
            f"weighted F1 {shown.weighted_f1:.3f}."
        )
    st.plotly_chart(confusion_figure(shown, rates), width=640)
    st.plotly_chart(scores_figure(shown))
    formats = {column: st.column_config.NumberColumn(format="%.3f") for column in ("precision", "recall", "F1")}
    st.dataframe(scores_table(shown), column_config=formats, width="content")
else:
    st.caption(UNAVAILABLE.format(EVALUATION_FILE))

st.header("Data")
if card and (card.data.train_counts or card.data.test_counts):
    train_total, test_total = sum(card.data.train_counts.values()), sum(card.data.test_counts.values())
    st.caption(f"Trained on {train_total:,} images and tested on {test_total:,} from `{card.data.path}`.")
    st.plotly_chart(counts_figure(card.data.train_counts, card.data.test_counts))
elif card:
    st.info("The model card does not record the class counts of the data.")
else:
    st.caption(UNAVAILABLE.format(CARD_FILE))

st.header("Model card")
if card:
    facts = card_facts(card, run)
    st.table(pd.DataFrame({"value": [value or "not recorded" for value in facts.values()]}, index=list(facts)))
    if card.summary:
        with st.expander("Architecture summary"):
            st.code(card.summary, language=None)
    if card.config:
        with st.expander("Training settings"):
            st.json(card.config)
else:
    st.caption(UNAVAILABLE.format(CARD_FILE))

st.header("Mistakes on the test set")
# The data path comes from the server's environment only: a visitor never names a file to open.
data = os.environ.get("FER_DATA", "")
if not data:
    st.caption(
        "The data set is not shipped with the app, so this gallery of the test faces the model gets wrong is off. "
        "To turn it on, start the app with `FER_DATA` naming a FER2013 folder (train/, test/) or fer2013.csv:"
    )
    st.code("FER_DATA=path/to/fer2013 .venv/bin/streamlit run app.py", language="bash", wrap_lines=True)
elif not run.has_model:
    st.caption(UNAVAILABLE.format(MODEL_FILE))
else:
    key = f"mistakes of {run.path} on {data}"
    if st.button("Find mistakes"):
        st.session_state[key] = True
    if st.session_state.get(key):
        try:
            mistakes = mistakes_on_test_set(str(run.path), data)
        except (ModelError, DatasetError, OSError) as error:
            # the message names the server's data folder: visitors see only the variable's name
            st.error(f"No mistakes to show: {str(error).replace(data, '$FER_DATA')}")
        else:
            st.caption(f"{len(mistakes):,} test faces classified wrongly; the most confident mistakes first.")
            true_class = st.selectbox("True class", ["any", *EMOTIONS])
            chosen = [m for m in mistakes if true_class in ("any", m.true_label)][:GALLERY_SIZE]
            captions = [f"{m.true_label} → {m.predicted_label} ({m.confidence:.0%})" for m in chosen]
            if chosen:
                st.image([m.image for m in chosen], caption=captions, width=96)
            else:
                st.caption(f"No {true_class} face of the test set was classified wrongly.")
