"""Face recognition: the triplet loss, a siamese network trained with online triplet mining,
one-shot verification on identities never seen in training, and two images compared."""

import streamlit as st

from ui import faces_eval, faces_training, faces_views

PAGE = "faces"

st.title("Face recognition")
st.markdown(
    "Recognising a person from a single stored photo is **one-shot learning**: there is no time to train a "
    "classifier per person. Instead a network learns an embedding in which photos of the same person lie close "
    "together and photos of different people lie far apart; two photos then match when their distance is "
    "below a threshold τ. **Try:** play with the triplet loss first, train a network (offline, digits stand in "
    "for people; with internet, real faces), then judge it on identities it never saw and compare two images "
    "of your own."
)

explorer, train, evaluation, verification = st.tabs(
    ["Triplet loss", "Train a siamese network", "One-shot evaluation", "Verify two images"]
)
with explorer:
    faces_views.render_explorer()
with train:
    faces_training.render_training()
with evaluation:
    faces_eval.render_evaluation()
with verification:
    faces_eval.render_verify()
