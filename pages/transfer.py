"""Transfer learning: the learner's own classes, a pretrained ImageNet network against the same network
from scratch, predictions with class activation maps, and the trained model to take away."""

import streamlit as st

from ui import transfer_classes, transfer_training, transfer_use

st.title("Transfer learning")
st.markdown(
    "Networks such as VGG and ResNet were trained on ImageNet's photos of 1,000 kinds of things; the features "
    "they learned — edges, textures, parts — are useful far beyond those classes. Here you teach one **your own "
    "classes** with a few dozen pictures, and see how much the pretrained features help against the same "
    "network learning from nothing. **Try:** make your classes, train, then show the network a new picture "
    "and look where it looked."
)

classes, train, use = st.tabs(["1 · Your classes", "2 · Train", "3 · Try it and export"])
with classes:
    transfer_classes.render()
with train:
    transfer_training.render()
with use:
    transfer_use.render()
