"""CNNs: the convolution explorer, classic architectures, training, looking inside a
trained network, and plain against residual networks."""

import streamlit as st

from ui import cnn_architectures, cnn_explorer, cnn_inside, cnn_training

PAGE = "cnn"

st.title("Convolutional networks")
st.markdown(
    "A convolutional network slides small filters over an image; each filter answers one question "
    "(\"is there a vertical edge here?\") at every position, and stacking such layers builds edges "
    "into textures, parts and objects. **Try:** start with the convolution explorer, then look at how "
    "LeNet-5, AlexNet, VGG and ResNet are built, train one on digits, and look inside what it learned."
)

explore, architectures, train, inside, residual = st.tabs(
    ["Convolution explorer", "Architectures", "Train a CNN", "Inside the network", "Plain vs residual"]
)
with explore:
    cnn_explorer.render()
with architectures:
    cnn_architectures.render()
with train:
    cnn_training.render()
with inside:
    cnn_inside.render()
with residual:
    cnn_training.render_degradation()
