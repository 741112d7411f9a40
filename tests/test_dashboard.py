"""The training dashboard page, run in-process with AppTest on run directories written like training writes them."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_artifacts import make_run, rewrite

from fer_core.labels import EMOTIONS
from fer_core.model.classifier import DEFAULT_MODEL
from fer_core.reporting.artifacts import CARD_FILE, EVALUATION_FILE, HISTORY_FILE, MODEL_FILE, read_run
from fer_core.reporting.valence import group_evaluation

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "dashboard.py")


def open_page(monkeypatch, models_dir: Path | None, data: str = "") -> AppTest:
    if models_dir is None:
        monkeypatch.delenv("FER_MODELS_DIR", raising=False)
    else:
        monkeypatch.setenv("FER_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("FER_DATA", data)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """The page's plotly figures as JSON, by title."""
    specs = [json.loads(element.proto.spec) for element in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def traces(spec: dict) -> dict[str, dict]:
    return {trace["name"]: trace for trace in spec["data"]}


def stored(run: Path, name: str):
    return json.loads((run / name).read_text())


@pytest.fixture
def models(tmp_path) -> Path:
    make_run(tmp_path / "fer_vgg")
    return tmp_path


def test_the_charts_hold_the_stored_numbers(monkeypatch, models):
    at = open_page(monkeypatch, models)
    history = stored(models / "fer_vgg", HISTORY_FILE)
    evaluation = stored(models / "fer_vgg", EVALUATION_FILE)
    card = stored(models / "fer_vgg", CARD_FILE)
    figures = charts(at)

    assert not at.error and not at.warning
    accuracy = traces(figures["Accuracy"])
    assert accuracy["train accuracy"]["y"] == [h["accuracy"] for h in history]
    assert accuracy["validation accuracy"]["y"] == [h["val_accuracy"] for h in history]
    assert accuracy["validation accuracy"]["x"] == [1, 2, 3, 4, 5, 6]
    assert traces(figures["Loss"])["validation loss"]["y"] == [h["val_loss"] for h in history]
    assert figures["Accuracy"]["layout"]["shapes"][0]["x0"] == card["best_epoch"]
    assert traces(figures["Learning rate"])["learning rate"]["y"] == [h["learning_rate"] for h in history]
    assert traces(figures["Seconds per epoch"])["seconds"]["y"] == [h["seconds"] for h in history]

    heatmap = figures["Confusion matrix (test faces)"]["data"][0]
    assert heatmap["z"] == evaluation["confusion_matrix"]
    assert heatmap["x"] == heatmap["y"] == list(EMOTIONS)

    per_class = traces(figures["Per-class scores"])
    assert per_class["recall"]["y"] == [evaluation["per_class"][name]["recall"] for name in EMOTIONS]
    table = at.dataframe[0].value
    assert table.loc["weighted avg", "F1"] == evaluation["weighted_f1"]
    assert table.loc["disgust", "support"] == evaluation["per_class"]["disgust"]["support"]

    counts = traces(figures["Images per class"])
    assert counts["train"]["y"] == list(card["data"]["train_counts"].values())
    assert counts["test"]["y"] == list(card["data"]["test_counts"].values())

    assert at.metric[0].value == f"{evaluation['accuracy']:.1%}"
    facts = at.table[0].value["value"]
    assert facts["Parameters"] == "1,242,919"
    assert facts["Hardware"] == card["hardware"]
    assert facts["Trained"] == "2026-11-21 22:18 UTC"
    assert "Total params" in at.code[0].value


def test_an_ensemble_shows_its_members_curves(monkeypatch, tmp_path):
    make_run(tmp_path / "run_a", epochs=5)
    make_run(tmp_path / "run_b", epochs=6)
    ensemble = make_run(tmp_path / "fer_vgg", seed=3)
    (ensemble / HISTORY_FILE).unlink()  # an ensemble is not trained itself
    rewrite(ensemble / CARD_FILE, lambda card: card.update(members=["run_a", "run_b"]))

    at = open_page(monkeypatch, tmp_path)
    assert not at.error and not at.warning
    accuracy = traces(charts(at)["Accuracy"])
    for member in ("run_a", "run_b"):
        history = stored(tmp_path / member, HISTORY_FILE)
        assert accuracy[f"{member}: validation accuracy"]["y"] == [h["val_accuracy"] for h in history]
    assert at.table[0].value["value"]["Members"] == "run_a, run_b"


def test_a_run_that_kept_its_last_weights_shows_no_best_epoch(monkeypatch, models):
    rewrite(models / "fer_vgg" / CARD_FILE, lambda card: card.update(best_epoch=None, kept="the last weight average"))
    at = open_page(monkeypatch, models)

    assert not charts(at)["Accuracy"]["layout"].get("shapes")  # no epoch marked as the one kept
    assert at.table[0].value["value"]["Epochs"] == "6 (kept: the last weight average)"


def test_a_fine_tuned_run_says_where_it_started(monkeypatch, models):
    at = open_page(monkeypatch, models)
    assert "Started from" not in at.table[0].value["value"]  # trained from scratch: no such row

    rewrite(models / "fer_vgg" / CARD_FILE, lambda card: card["config"].update(init_from="models/base/model.keras"))
    at = open_page(monkeypatch, models)
    assert at.table[0].value["value"]["Started from"] == "models/base/model.keras"
    assert [c.value for c in at.caption if "Fine-tuned" in c.value and "models/base/model.keras" in c.value]


def test_the_toggles_show_rates_and_valence_groups(monkeypatch, models):
    at = open_page(monkeypatch, models)
    counts = stored(models / "fer_vgg", EVALUATION_FILE)["confusion_matrix"]

    at.toggle[1].set_value(True).run()
    heatmap = charts(at)["Confusion matrix (share of each true class)"]["data"][0]
    assert heatmap["z"][2] == pytest.approx([count / sum(counts[2]) for count in counts[2]])
    assert heatmap["text"][2][2] == f"{counts[2][2] / sum(counts[2]):.0%}"

    at.toggle[1].set_value(False)
    at.toggle[0].set_value(True).run()
    figures = charts(at)
    heatmap = figures["Confusion matrix (test faces)"]["data"][0]
    grouped = group_evaluation(read_run(models / "fer_vgg").evaluation)
    assert heatmap["x"] == ["positive", "neutral", "negative"]
    assert heatmap["z"] == grouped.confusion_matrix
    assert sum(map(sum, heatmap["z"])) == sum(map(sum, counts))
    assert list(at.dataframe[0].value.index) == ["positive", "neutral", "negative", "macro avg", "weighted avg"]
    assert traces(figures["Per-class scores"])["F1"]["y"] == [grouped.per_class[g].f1 for g in grouped.labels]


def test_several_runs_can_be_picked_and_their_curves_overlaid(monkeypatch, models):
    make_run(models / "baseline", seed=1, epochs=4)
    at = open_page(monkeypatch, models)

    assert at.selectbox[0].value == "fer_vgg"
    at.selectbox[1].set_value("baseline").run()
    accuracy = traces(charts(at)["Accuracy"])
    assert set(accuracy) == {
        f"{run}: {split} accuracy" for run in ("fer_vgg", "baseline") for split in ("train", "validation")
    }
    assert accuracy["baseline: validation accuracy"]["line"]["dash"] == "dash"
    assert len(accuracy["baseline: train accuracy"]["y"]) == 4

    at.selectbox[0].set_value("baseline").run()
    baseline = stored(models / "baseline", EVALUATION_FILE)
    assert charts(at)["Confusion matrix (test faces)"]["data"][0]["z"] == baseline["confusion_matrix"]


@pytest.mark.parametrize("missing", [HISTORY_FILE, EVALUATION_FILE, CARD_FILE, MODEL_FILE])
def test_a_missing_file_gets_a_warning_and_the_rest_is_drawn(monkeypatch, models, missing):
    (models / "fer_vgg" / missing).unlink()
    at = open_page(monkeypatch, models)

    assert not at.error
    assert [w.value for w in at.warning if missing in w.value and "missing" in w.value]
    titles = set(charts(at))
    assert ("Accuracy" in titles) == (missing != HISTORY_FILE)
    assert ("Confusion matrix (test faces)" in titles) == (missing != EVALUATION_FILE)
    assert ("Images per class" in titles) == (missing != CARD_FILE)
    if missing != MODEL_FILE:  # the section that needs the file says so where the chart would be
        assert [c.value for c in at.caption if "Not available" in c.value and missing in c.value]


@pytest.mark.parametrize("damaged", [HISTORY_FILE, EVALUATION_FILE, CARD_FILE])
def test_a_damaged_file_gets_an_error_and_the_rest_is_drawn(monkeypatch, models, damaged):
    (models / "fer_vgg" / damaged).write_text('{"cut off": ')
    at = open_page(monkeypatch, models)

    assert len(at.error) == 1 and damaged in at.error[0].value and "damaged" in at.error[0].value
    assert len(charts(at)) >= 2


def test_older_files_without_newer_keys_still_show(monkeypatch, models):
    run = models / "fer_vgg"
    rewrite(run / HISTORY_FILE, lambda history: [h.pop(key) for h in history for key in ("learning_rate", "seconds")])
    (run / CARD_FILE).write_text(json.dumps({"name": "fer_vgg", "architecture": "vgg", "parameters": 1000}))
    at = open_page(monkeypatch, models)

    assert not at.error and not at.warning
    assert "Accuracy" in charts(at)
    assert "Learning rate" not in charts(at) and "Seconds per epoch" not in charts(at)
    assert at.table[0].value["value"]["Hardware"] == "not recorded"
    assert [i.value for i in at.info if "class counts" in i.value]


def test_no_runs_at_all_says_how_to_get_one(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path / "models")

    assert "No trained model" in at.warning[0].value and "python -m fer_core train" in at.warning[0].value
    assert not charts(at)


def fixed_answer_model(path: Path, answer: str) -> None:
    """A tiny model that gives every face the same probabilities, most of all to `answer`."""
    import keras

    logits = np.zeros(len(EMOTIONS), np.float32)
    logits[EMOTIONS.index(answer)] = 3.0
    model = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")]
    )
    model.layers[-1].set_weights([np.zeros((48 * 48, 7), np.float32), logits])
    model.save(path)


def write_test_images(data: Path, classes: tuple[str, ...]) -> None:
    """Two noise images per class in the FER2013 folder layout."""
    rng = np.random.default_rng(0)
    for name in classes:
        (data / "test" / name).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(data / "test" / name / f"{i}.png"), rng.integers(0, 256, (48, 48), np.uint8))


def test_the_gallery_shows_the_mistakes_on_demand(monkeypatch, models, tmp_path):
    fixed_answer_model(models / "fer_vgg" / MODEL_FILE, "happy")
    write_test_images(tmp_path / "data", ("angry", "happy", "sad"))

    at = open_page(monkeypatch, models, data=str(tmp_path / "data"))
    assert not at.image
    at.button[0].click().run()

    assert not at.error
    captions = at.image[0].captions
    confidence = np.exp(3) / (np.exp(3) + 6)
    assert sorted(captions) == [f"angry → happy ({confidence:.0%})"] * 2 + [f"sad → happy ({confidence:.0%})"] * 2

    at.selectbox[-1].set_value("sad").run()
    assert at.image[0].captions == [f"sad → happy ({confidence:.0%})"] * 2
    at.selectbox[-1].set_value("happy").run()
    assert not at.image and [c.value for c in at.caption if "No happy face" in c.value]


def test_the_gallery_needs_a_data_folder_and_says_when_it_is_wrong(monkeypatch, models, tmp_path):
    at = open_page(monkeypatch, models)
    assert not at.button and [c.value for c in at.caption if "not shipped" in c.value]
    assert not at.text_input  # the path is configuration, not something a visitor types

    at = open_page(monkeypatch, models, data=str(tmp_path / "nowhere"))
    at.button[0].click().run()
    assert "does not exist" in at.error[0].value


def test_the_gallery_says_when_the_model_file_is_damaged(monkeypatch, models, tmp_path):
    write_test_images(tmp_path / "data", ("angry",))
    at = open_page(monkeypatch, models, data=str(tmp_path / "data"))  # model.keras holds b"stand-in"
    at.button[0].click().run()

    assert "cannot be loaded" in at.error[0].value and MODEL_FILE in at.error[0].value


@pytest.mark.skipif(not DEFAULT_MODEL.is_dir(), reason="the shipped model is not trained yet")
def test_the_shipped_model_shows_without_problems(monkeypatch):
    at = open_page(monkeypatch, None)

    assert not at.error and not at.warning
    assert {"Accuracy", "Loss", "Confusion matrix (test faces)", "Images per class"} <= set(charts(at))


@pytest.mark.skipif(not DEFAULT_MODEL.is_dir(), reason="the shipped model is not trained yet")
def test_the_shipped_models_card_counts_every_training_stage(monkeypatch):
    """The shipped model is an ensemble of separately trained networks: its epochs and training
    time are those of all its members' training runs (a fine-tuned member's earlier runs too),
    read from their cards."""
    from fer_core.reporting.cards import training_stages

    at = open_page(monkeypatch, None)
    facts = at.table[0].value["value"]
    members = stored(DEFAULT_MODEL, CARD_FILE)["members"]
    stages = [stage for name in members for stage in training_stages(stored(DEFAULT_MODEL.parent / name, CARD_FILE))]
    assert len(members) >= 3 and len(stages) >= len(members)
    assert facts["Epochs"] == f"{sum(stage['epochs'] for stage in stages)} in all ({len(stages)} training stages)"
    assert facts["Training time"].endswith(f"in all ({len(stages)} training stages)")


def test_every_chart_keeps_its_title_below_plotlys_toolbar(monkeypatch, models):
    from fer_core.reporting.charts import TOOLBAR_HEIGHT

    figures = charts(open_page(monkeypatch, models))
    assert len(figures) >= 6
    for title, spec in figures.items():
        layout = spec["layout"]
        assert layout["title"]["yref"] == "container" and layout["title"]["pad"]["t"] >= TOOLBAR_HEIGHT, title
        assert layout["margin"]["t"] >= TOOLBAR_HEIGHT + 30, title


@pytest.mark.skipif(not DEFAULT_MODEL.is_dir(), reason="the shipped model is not trained yet")
def test_each_shipped_model_says_what_it_serves(monkeypatch):
    at = open_page(monkeypatch, None)
    assert "photo model" in at.caption[1].value
    members = stored(DEFAULT_MODEL, CARD_FILE)["members"]
    at.selectbox[0].set_value("fer_live").run()
    assert "live model" in at.caption[1].value
    assert ("member of `fer_vgg`" in at.caption[1].value) == ("fer_live" in members)
    at.selectbox[0].set_value(members[0]).run()
    assert "member of `fer_vgg`" in at.caption[1].value


def test_an_ensembles_members_each_get_their_own_colour_and_fast_epochs_are_not_flattened():
    from fer_core.reporting.artifacts import History
    from fer_core.reporting.dashboard import curves_figure

    runs = {
        f"m{i}": History.from_json(
            [{"epoch": e, "accuracy": 0.5, "seconds": 2.0 if e < 5 else 250.0} for e in (1, 5, 6)]
        )
        for i in range(4)
    }
    figure = curves_figure("Seconds per epoch", {"seconds": "seconds"}, runs, None, log_y=True)
    assert len({trace.line.color for trace in figure.data}) == 4
    assert figure.layout.yaxis.type == "log"  # 2 s and 250 s epochs both readable
    single = curves_figure("Accuracy", {"accuracy": "train accuracy"}, {"m0": runs["m0"]}, None, log_y=True)
    assert single.layout.yaxis.type != "log"  # a narrow range stays linear


def test_the_tallest_bars_share_label_fits_inside_the_chart():
    from fer_core.reporting.dashboard import counts_figure

    figure = counts_figure({"happy": 7000, "sad": 3000}, {"happy": 900, "sad": 400})
    assert figure.layout.yaxis.range[1] >= 1.25 * 7000


def test_a_staged_model_says_where_each_stage_ran_and_never_that_it_started_from_itself():
    from fer_core.reporting.artifacts import ModelCard
    from fer_core.reporting.dashboard import lineage

    card = ModelCard.from_json(
        {
            "stages": [
                {"name": "a", "epochs": 99, "seconds": 500, "hardware": "a GPU"},
                {"name": "b", "epochs": 22, "seconds": 2800, "hardware": "a CPU"},
            ],
            "config": {"stages": [{"epochs": 99}, {"epochs": 22}]},
        }
    )
    text = lineage(card)
    assert (
        "stage 1: 99 epochs from scratch on a GPU" in text
        and "stage 2: 22 epochs from the stage before on a CPU" in text
    )


def test_the_shipped_cards_say_which_real_photos_each_model_saw_and_when_it_is_unsure(monkeypatch):
    at = open_page(monkeypatch, None)
    facts = at.table[0].value["value"]
    assert "held-out photos of other people" in facts["Real photos"]  # a member that trained on wild-dev
    assert facts["Shown as unsure"].startswith("top probability under ")
    assert facts["Time per face"].endswith(" ms (its networks in 8-bit integers, LiteRT)")  # as the app runs it
    at.selectbox[0].set_value("fer_live").run()
    facts = at.table[0].value["value"]
    assert "420 photos of wild-dev (models/fer_live/wild_dev_train.txt)" in facts["Real photos"]
