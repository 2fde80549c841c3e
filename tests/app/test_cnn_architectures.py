"""The Architectures tab of the CNNs page through AppTest: parameter counts that match torchvision,
the layer table, and the 1×1 bottleneck calculator's numbers from the course."""

from tests.app.helpers import by_label, page, texts


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _layer_table(at):
    tables = [d.value for d in at.dataframe if {"output shape", "multiply-adds"} <= set(d.value.columns)]
    assert tables, "no layer table on the page"
    return tables[0]


def test_full_size_counts_match_torchvision():
    at = page("cnn").run()
    assert not at.exception
    assert by_label(at.radio, "Version").value == "Full size"
    by_label(at.selectbox, "Architecture to inspect").set_value("AlexNet").run()
    assert not at.exception
    m = _metrics(at)
    assert m["Parameters"] == "61,100,840" and m["torchvision: alexnet()"] == "61,100,840"
    assert m["Input"] == "3×224×224"
    assert any(x.delta == "same count as ours" for x in at.metric)
    table = _layer_table(at)
    assert table.iloc[-1]["name"] == "total" and table.iloc[-1]["parameters"] == 61_100_840
    assert "Conv 11×11, s4, p2" in set(table["layer"])
    assert "Krizhevsky" in texts(at)

    by_label(at.selectbox, "Architecture to inspect").set_value("ResNet-50").run()
    assert not at.exception
    m = _metrics(at)
    assert m["Parameters"] == "25,557,032" and m["torchvision: resnet50()"] == "25,557,032"
    by_label(at.radio, "Table rows").set_value("one row per block").run()
    table = _layer_table(at)
    assert (table["layer"].str.startswith("Bottleneck")).sum() == 16
    assert table.iloc[-1]["parameters"] == 25_557_032
    assert len(at.get("plotly_chart")) >= 3  # shape flow, layer costs, bottleneck chart


def test_small_inputs_render():
    at = page("cnn").run()
    by_label(at.radio, "Version").set_value("Small input (28–32 px)").run()  # LeNet-5 is the first choice
    assert _metrics(at)["Parameters"] == "61,706" and _metrics(at)["Input"] == "1×28×28"
    for name, shape in (("ResNet-20 (CIFAR)", "1×28×28"), ("Inception (small)", "1×28×28"), ("VGG-16", "3×32×32")):
        by_label(at.selectbox, "Architecture to inspect").set_value(name).run()
        assert not at.exception, name
        assert _metrics(at)["Input"] == shape, name
    by_label(at.selectbox, "Architecture to inspect").set_value("LeNet-5").run()
    assert "6×28×28" in set(_layer_table(at)["output shape"])


def test_bottleneck_calculator():
    at = page("cnn").run()
    m = _metrics(at)
    assert m["Direct: multiplies"] == "120,422,400"
    assert m["Through the bottleneck: multiplies"] == "12,443,648"
    assert m["Saving"] == "9.7× fewer"
    latex = "\n".join(str(e.value) for e in at.get("latex"))
    assert "120{,}422{,}400" in latex and "2{,}408{,}448" in latex and "10{,}035{,}200" in latex
    by_label(at.number_input, "Bottleneck channels").set_value(192).run()
    assert not at.exception
    assert "costs more than it saves" in texts(at)
    by_label(at.number_input, "Bottleneck channels").set_value(4).run()
    assert _metrics(at)["Through the bottleneck: multiplies"] == f"{28 * 28 * 4 * 192 + 28 * 28 * 32 * 25 * 4:,}"
