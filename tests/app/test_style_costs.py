"""The style page's "Costs and Gram matrices" tab through AppTest: it renders with the random-weights
note, its J_content equals core.style.content_cost computed here from the same two pictures and layer,
the layer's n_C, n_H and n_W follow VGG-19's architecture, and a file that is not a picture gets a
plain message instead of an exception."""

import pytest
import torch

from core.data.images import from_pil, sample_images
from core.style import content_cost, vgg
from core.style.patterns import DEFAULT_STYLE, STYLE_IMAGES
from core.style.transfer import features, image_tensor, prepare_pair
from tests.app.helpers import by_label, page, texts

J_CONTENT = "J_content(A, B)"
# VGG-19 (Simonyan & Zisserman 2015, configuration E): channels of the convolutions in each block
VGG19_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


def _table(at):
    tables = [d.value for d in at.dataframe if J_CONTENT in d.value.columns]
    assert len(tables) == 1, texts(at)
    return tables[0].set_index("layer")


def test_tab_renders_and_its_content_cost_is_the_course_formula():
    at = page("style").run()
    assert not at.exception
    _, pretrained, note = features(allow_download=False)
    if not pretrained:  # here: no ImageNet file, so the tab says VGG-19 has random weights
        assert any(note in str(i.value) for i in at.info)
    table = _table(at)
    layer = by_label(at.selectbox, "Layer to compare").value
    size = by_label(at.select_slider, "Comparison size (long side, px)").value
    assert (layer, size) == ("conv3_1", 128)
    # the same two pictures the tab starts with, through the same preparation, a VGG-19 of its own and the core formula
    a = from_pil(sample_images()["Cat (Chelsea)"](), max_side=1024).image
    b = from_pil(STYLE_IMAGES[DEFAULT_STYLE](), max_side=1024).image
    a_img, b_img = prepare_pair(a, b, size)
    ex = vgg.Extractor(features(allow_download=False)[0], [layer])
    with torch.no_grad():
        expected = float(content_cost(ex(image_tensor(a_img))[layer][0], ex(image_tensor(b_img))[layer][0]))
    assert expected > 0
    assert table.loc[layer, J_CONTENT] == pytest.approx(expected, rel=1e-4)
    assert set(vgg.STYLE_LAYERS_GATYS) <= set(table.index)
    assert (table["J_style^[l](A, B)"] > 0).all()
    assert any("Gram matrices at conv3_1" in str(m.value) for m in at.markdown)
    assert len([c for c in at.get("plotly_chart")]) >= 4  # maps of A, maps of B, Gram matrices, bars
    latex = " ".join(str(e.value) for e in at.get("latex"))
    assert r"\left(2\, n^{[l]}_H n^{[l]}_W n^{[l]}_C\right)^2" in latex and r"\lambda^{[l]}" in latex


def test_switching_the_layer_follows_vgg19():
    at = page("style").run()
    width, height = 128, 85  # the cat photo (451×300) at 128 px on its longer side
    for layer in ("conv1_1", "conv2_2", "conv3_3", "conv4_2", "conv5_4"):
        by_label(at.selectbox, "Layer to compare").set_value(layer).run()
        assert not at.exception
        block = int(layer[4])
        row = _table(at).loc[layer]
        poolings = block - 1  # each 2×2 max pooling before the block halves the grid (rounding down)
        assert row["n_C"] == VGG19_CHANNELS[block]
        assert (row["n_H"], row["n_W"]) == (height >> poolings, width >> poolings)
        assert f"into {VGG19_CHANNELS[block]} maps of {height >> poolings}×{width >> poolings} numbers" in texts(at)


def test_same_picture_costs_nothing_and_a_mirror_only_moves_the_content():
    at = page("style").run()
    by_label(at.selectbox, "Image B: sample photo").set_value("Cat (Chelsea)").run()
    table = _table(at)
    assert (table[J_CONTENT] == 0).all() and (table["J_style^[l](A, B)"] == 0).all()
    by_label(at.selectbox, "Image B: change").set_value("mirrored").run()
    assert not at.exception
    table = _table(at)
    assert (table[J_CONTENT] > 0).all()


def test_a_text_file_named_png_gets_a_plain_message():
    at = page("style").run()
    by_label(at.segmented_control, "Image A: source").set_value("Upload").run()
    by_label(at.file_uploader, "Image A: upload").upload("notes.png", b"this is not a picture", "image/png")
    at.run()
    assert not at.exception
    assert any("notes.png is not an image we can read" in str(e.value) for e in at.error)
    assert "Pick or upload Image A to compare the two." in texts(at)
    assert not [d for d in at.dataframe if J_CONTENT in d.value.columns]
