"""Neural style transfer: paint one picture in the manner of another by optimising its pixels against
VGG-19's features, see the course's costs and Gram matrices, and what each cost keeps on its own."""

from ui import shell
from ui.style import costs, reconstruct, transfer

shell.topic_page(
    "Neural style transfer",
    "A network trained to recognise objects has learned, layer by layer, to describe *what* is in a picture "
    "and *how* it is painted. Style transfer starts from a picture G and changes its pixels until a deep "
    "layer describes it like the **content** image C, while the correlations between channels (Gram "
    "matrices) of several layers match the **style** image S. Nothing is trained: the network is fixed, "
    "the image is what moves. **Try:** run a transfer with the defaults, then change the style strength, the "
    "layers or the start image; look at the Gram matrices; see what each cost rebuilds on its own.",
    {"Style transfer": transfer.render, "Costs and Gram matrices": costs.render, "What each cost keeps": reconstruct.render},
)
