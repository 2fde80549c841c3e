"""The Regularization page through AppTest: it renders, each experiment runs tiny to the
end as tracked runs, and bad settings give plain messages."""

from core import tracking
from tests.app.helpers import by_label, page, run_until, texts
from ui.jobs import divergence_line


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


def _sweep_set_up(at, n_train, epochs, lambdas):
    """A digits set-up with mini-batches of 8 and a λ-only sweep."""
    by_label(at.selectbox, "Dataset").set_value("digits")
    by_label(at.slider, "Training examples").set_value(n_train)
    by_label(at.slider, "Epochs").set_value(epochs)
    by_label(at.select_slider, "Mini-batch size").set_value(8)
    by_label(at.text_input, "λ values (comma-separated)").set_value(lambdas)
    by_label(at.text_input, "keep_prob values (comma-separated)").set_value("")
    return at


def test_a_diverged_lane_is_shown_by_the_job_panel_alone(fresh_store):
    # plain gradient descent with α·λ/m = 5: each step multiplies the weights by −4 until they overflow
    at = _sweep_set_up(page("regularization").run(), 100, 5, "1000, 0")
    by_label(at.slider, "Hidden layers").set_value(1)
    by_label(at.select_slider, "Units per hidden layer").set_value(32)
    by_label(at.selectbox, "Optimizer").set_value("Gradient descent")
    by_label(at.number_input, "Learning rate α").set_value(0.5)
    at = _finish(at, "Start the sweep")  # the form's values go with its button (no rerun before)
    result = at.session_state["regularization.sweep.result"]
    blown = result.lane("λ=1000")
    assert blown.status == "FAILED" and result.lane("λ=0").status == "FINISHED"
    assert [e.value for e in at.error] == [divergence_line("λ=1000", blown.error)]  # once, and nothing else
    assert texts(at).count(blown.error) == 1
    df = _runs()
    assert df.loc["λ=1000", "status"] == "FAILED" and df.loc["λ=1000", "tags.dll.error"] == blown.error
    table = next(d.value for d in at.dataframe if "lane" in d.value.columns)
    assert table.set_index("lane").loc["λ=1000", "status"] == "FAILED"
    assert "error against" in str([c.proto.spec for c in at.get("plotly_chart")])  # the finished lane's point


def test_stop_keeps_the_lanes_so_far_in_the_table(fresh_store):
    at = _sweep_set_up(page("regularization").run(), 1000, 200, "0, 1")
    by_label(at.button, "Start the sweep").click()
    at = at.run()
    run_until(at, lambda a: any(b.label == "Stop" for b in a.button)  # running, with live curves drawn
              and any("per epoch" in str(c.proto.spec) for c in a.get("plotly_chart")), every=1.0)
    by_label(at.button, "Stop").click().run()
    at = run_until(at, lambda a: "Stopped." in texts(a))
    result = at.session_state["regularization.sweep.result"]
    assert result.stopped and [ln.status for ln in result.lanes] == ["KILLED", "SKIPPED"]
    table = next(d.value for d in at.dataframe if "lane" in d.value.columns)
    assert list(table["lane"]) == ["λ=0", "λ=1"] and list(table["status"]) == ["KILLED", "SKIPPED"]
    assert by_label(at.get("download_button"), "Download sweep results (CSV)") is not None
    df = tracking.search_runs()
    assert df["status"].tolist() == ["KILLED"] and df.iloc[0]["run_id"] == result.lanes[0].run_id
    assert not at.error


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
    assert "learning rates: choose between 1 and 4" in [e.value for e in at.error]
    assert not at.exception and "Finished in" not in texts(at)
    assert len(tracking.search_runs()) == 0
