"""The CNNs page's training tabs under AppTest: train a network, look inside it, the
plain-vs-residual experiment, and a dataset that cannot be downloaded."""

from core import tracking
from tests.app.helpers import by_label, page, run_until, texts


def _train(at, **settings):
    by_label(at.selectbox, "Training data").set_value(settings.get("data", "digits"))
    by_label(at.number_input, "Training images (0 = all)").set_value(settings.get("limit", 400))
    by_label(at.slider, "Epochs ").set_value(1)
    by_label(at.button, "Train").click()
    return at.run()


def test_inside_tab_without_a_network_offers_a_quick_training(fresh_store):
    at = page("cnn").run()
    assert not at.exception
    assert "There is no trained network yet" in texts(at)
    assert by_label(at.button, "Train LeNet-5 on the MNIST sample now (a few seconds)")


def test_train_then_look_inside(fresh_store):
    at = _train(page("cnn").run())
    at = run_until(at, lambda a: "Finished in" in texts(a)).run()  # the rerun the finished job asks for
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert {"Dev accuracy", "Train accuracy", "Seconds per epoch", "Trained on"} <= set(labels)
    dev = by_label(at.metric, "Dev accuracy").value
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"] and runs.iloc[0]["params.dataset"] == "digits"
    assert f"{runs.iloc[0]['metrics.final_dev_accuracy']:.2%}" == dev  # the page shows the tracked figure
    # Inside: this session's network is offered first, with its feature maps and probabilities
    net = by_label(at.selectbox, "Network to look into")
    assert net.value == "The network trained in this session"
    layer = by_label(at.selectbox, "Convolution layer")
    assert len(layer.options) == 2  # LeNet-5 has two convolutions
    assert any("the network says" in (c.proto.spec or "") for c in at.get("plotly_chart"))
    by_label(at.slider, "Dev example").set_value(5).run()
    assert not at.exception
    # the tracked run can be chosen too, and its network is rebuilt from the saved weights
    at = page("cnn").run()
    net = by_label(at.selectbox, "Network to look into")
    assert net.value == runs.iloc[0]["run_id"]
    assert len(by_label(at.selectbox, "Convolution layer").options) == 2


def test_plain_vs_residual(fresh_store):
    at = page("cnn").run()
    by_label(at.selectbox, "Deep depth").set_value(14)
    by_label(at.number_input, "Training images").set_value(100)
    by_label(at.select_slider, "Channels in the first stage").set_value(4)
    by_label(at.select_slider, "Image size (pixels)").set_value(8)
    by_label(at.slider, "Epochs  ").set_value(1)
    by_label(at.button, "Train the four networks").click()
    at = run_until(at.run(), lambda a: "Comparison tag" in texts(a))
    assert not at.exception
    runs = tracking.search_runs()
    assert len(runs) == 4 and set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["params.network"]) == ["plain-14", "plain-8", "residual-14", "residual-8"]
    assert runs.iloc[0]["tags.dll.comparison"] in texts(at)


def test_bad_depths_and_an_unavailable_dataset_get_messages(fresh_store, preloaded_runner):
    at = page("cnn").run()
    by_label(at.selectbox, "Shallow depth").set_value(56)
    by_label(at.button, "Train the four networks").click()
    at.run()
    assert "the deep network must have more layers" in texts(at)
    assert tracking.search_runs().empty

    preloaded_runner("tests.fakes_cnn")  # the training's worker cannot download CIFAR-10
    at = _train(page("cnn").run(), data="cifar10")
    at = run_until(at, lambda a: "could not be downloaded" in texts(a))
    assert not at.exception
    assert [e.value for e in at.error if "could not be downloaded" in e.value] == [
        "The training stopped: cifar10 could not be downloaded (is this machine offline?). "
        "Offline alternatives: digits."]
