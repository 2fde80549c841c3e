"""The Regularization page through AppTest: it renders, each experiment runs tiny to the
end as tracked runs, and bad settings give plain messages."""

from core import tracking
from tests.app.helpers import by_label, page, run_until, texts


def _tiny(at, epochs=2, n_train=40):
    """The shared set-up, made tiny."""
    by_label(at.slider, "Epochs").set_value(epochs)
    by_label(at.slider, "Training examples").set_value(n_train)
    return at.run()


def _finish(at, button):
    by_label(at.button, button).click()
    at = at.run()
    assert not at.exception, at.exception
    return run_until(at, lambda a: "Finished in" in texts(a))


def _runs():
    df = tracking.search_runs()
    assert set(df["experiment"]) == {"regularization"} and df["tags.dll.comparison"].nunique() == 1
    return df.set_index("params.lane")


def test_page_renders_with_formulas_preview_and_every_experiment():
    at = page("regularization").run()
    assert not at.exception
    formulas = " ".join(str(e.value) for e in at.get("latex"))
    for part in (r"\frac{\lambda}{2m}", r"\frac{\lambda}{m} W^{[l]}", r"\text{keep\_prob}", r"\gamma z^{(i)}_{norm} + \beta"):
        assert part in formulas, part
    assert len(at.get("plotly_chart")) == 1  # the augmentation preview grid
    buttons = [b.label for b in at.button]
    for label in ("Start the overfitting experiment", "Start the augmentation experiment",
                  "Start the early-stopping experiment", "Start the batch-norm comparison", "Start the sweep"):
        assert label in buttons
    by_label(at.multiselect, "Transformations").set_value([]).run()
    assert "choose at least one transformation" in texts(at)
    by_label(at.selectbox, "Dataset").set_value("digits").run()
    assert not at.exception


def test_overfitting_experiment_is_tracked(fresh_store):
    at = _tiny(page("regularization").run())
    by_label(at.number_input, "λ (L2 strength)").set_value(2.0)
    by_label(at.slider, "keep_prob (dropout)").set_value(0.5)
    at = _finish(at, "Start the overfitting experiment")
    assert "Final train and dev error" in str([c.proto.spec for c in at.get("plotly_chart")])
    assert "high variance" in texts(at) or "high bias" in texts(at)
    df = _runs()
    assert sorted(df.index) == ["no regularization", "λ=2, keep_prob=0.5"]
    assert set(df["status"]) == {"FINISHED"}
    assert df.loc["λ=2, keep_prob=0.5", "params.lam"] == "2.0" and df.loc["λ=2, keep_prob=0.5", "params.keep_prob"] == "0.5"
    assert df.loc["no regularization", "params.n_train"] == "40" and df.loc["no regularization", "params.epochs"] == "2"
    assert by_label(at.get("download_button"), "Download overfitting results (CSV)") is not None


def test_augmentation_experiment_is_tracked(fresh_store):
    at = _tiny(page("regularization").run())
    by_label(at.multiselect, "Transformations").set_value(["flip", "colour"])
    by_label(at.slider, "Copies per training image").set_value(2)
    at = _finish(at.run(), "Start the augmentation experiment")
    df = _runs()
    assert set(df["status"]) == {"FINISHED"}
    assert df.loc["with augmentation", "params.augmentation"] == "flip+colour ×2"
    assert df.loc["without augmentation", "params.augmentation"] == "none"


def test_early_stopping_experiment_is_tracked(fresh_store):
    at = _tiny(page("regularization").run(), epochs=4)
    by_label(at.slider, "Patience (epochs without improvement)").set_value(1)
    by_label(at.radio, "Watch").set_value("dev error")
    at = _finish(at, "Start the early-stopping experiment")
    assert "went back to epoch" in texts(at)
    df = _runs()
    assert set(df["status"]) == {"FINISHED"}
    assert df.loc["early stopping", "params.patience"] == "1" and df.loc["early stopping", "params.monitor"] == "dev error"
    assert df.loc["all epochs", "params.patience"] == "0"


def test_batch_norm_comparison_is_tracked_and_looks_inside_a_layer(fresh_store):
    at = _tiny(page("regularization").run())
    by_label(at.text_input, "Learning rates α to compare").set_value("0.05")
    by_label(at.slider, "Training examples for this comparison").set_value(100)
    by_label(at.slider, "Epochs for this comparison").set_value(1)
    at = _finish(at, "Start the batch-norm comparison")
    assert "Inside the first batch-norm layer" in texts(at)
    df = _runs()
    assert sorted(df.index) == ["BN, α=0.05", "no BN, α=0.05"]
    assert set(df["status"]) == {"FINISHED"}
    assert df.loc["BN, α=0.05", "params.batch_norm"] == "true" and df.loc["no BN, α=0.05", "params.batch_norm"] == "false"
    assert df.loc["BN, α=0.05", "params.optimizer"] == "Gradient descent" and df.loc["BN, α=0.05", "params.n_train"] == "100"


def test_sweep_is_tracked_with_one_comparison_tag(fresh_store):
    at = _tiny(page("regularization").run())
    by_label(at.text_input, "λ values (comma-separated)").set_value("0, 5")
    by_label(at.text_input, "keep_prob values (comma-separated)").set_value("0.5")
    at = _finish(at, "Start the sweep")
    specs = str([c.proto.spec for c in at.get("plotly_chart")])
    assert "error against" in specs and "Distribution of the weights" in specs
    df = _runs()
    assert sorted(df.index) == ["keep_prob=0.5", "λ=0", "λ=5"]
    assert set(df["status"]) == {"FINISHED"}
    assert df.loc["λ=5", "params.lam"] == "5.0" and df.loc["λ=5", "params.experiment"] == "sweep"


def test_bad_settings_give_plain_messages_and_start_nothing(fresh_store):
    at = page("regularization").run()
    by_label(at.text_input, "λ values (comma-separated)").set_value("0, ten")
    by_label(at.button, "Start the sweep").click()
    at = at.run()
    assert "λ values: 'ten' is not a number" in [e.value for e in at.error]
    by_label(at.text_input, "λ values (comma-separated)").set_value("-1")
    by_label(at.button, "Start the sweep").click()
    at = at.run()
    assert "λ must be between 0 and 1,000" in [e.value for e in at.error]
    by_label(at.text_input, "keep_prob values (comma-separated)").set_value("0")
    by_label(at.text_input, "λ values (comma-separated)").set_value("1")
    by_label(at.button, "Start the sweep").click()
    at = at.run()
    assert "keep_prob must be above 0 and at most 1" in [e.value for e in at.error]
    by_label(at.text_input, "Learning rates α to compare").set_value("0.1, 0.2, 0.3, 0.4, 0.5")
    by_label(at.button, "Start the batch-norm comparison").click()
    at = at.run()
    assert "give 1 to 4 learning rates" in [e.value for e in at.error]
    assert not at.exception and "Finished in" not in texts(at)
    assert len(tracking.search_runs()) == 0
