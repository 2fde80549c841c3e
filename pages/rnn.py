"""RNNs: the course's RNN, LSTM and GRU cells with a gate viewer, vanishing and exploding
gradients through time, a character-level language model, and a bidirectional RNN on a task
where the future matters."""

from ui import shell
from ui.rnn import bidirectional, cells, charlm, gradients

shell.topic_page(
    "RNNs",
    "A recurrent network reads a sequence one step at a time and keeps a **state**, a summary of what it has read "
    "so far, updated with the same weights at every step. That lets one small network handle names, sentences or "
    "signals of any length. Plain RNNs struggle to remember far back because the gradient fades step after step; "
    "the **LSTM** and **GRU** add gates that decide what to keep. **Try:** look inside the gates, measure how fast "
    "the gradient fades, train a model that writes names, and see when reading backwards too pays off.",
    {
        "Cells and gates": cells.render_cells,
        "Vanishing gradients": gradients.render_gradients,
        "Character language model": charlm.render_charlm,
        "Bidirectional": bidirectional.render_bidirectional,
    },
)
