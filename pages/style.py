"""Neural style transfer: paint one picture in the manner of another by optimising its pixels against
VGG-19's features, see the course's costs and Gram matrices, and what each cost keeps on its own."""

import streamlit as st

from ui import style_costs, style_reconstruct, style_transfer

PAGE = "style"

st.title("Neural style transfer")
st.markdown(
    "A network trained to recognise objects has learned, layer by layer, to describe *what* is in a picture "
    "and *how* it is painted. Style transfer starts from a picture G and changes its pixels until a deep "
    "layer describes it like the **content** image C, while the correlations between channels (Gram "
    "matrices) of several layers match the **style** image S. Nothing is trained: the network is fixed, "
    "the image is what moves. **Try:** run a transfer with the defaults, then change the style strength, the "
    "layers or the start image; look at the Gram matrices; see what each cost rebuilds on its own."
)

transfer, costs, keeps = st.tabs(["Style transfer", "Costs and Gram matrices", "What each cost keeps"])
with transfer:
    style_transfer.render()
with costs:
    style_costs.render()
with keeps:
    style_reconstruct.render()
