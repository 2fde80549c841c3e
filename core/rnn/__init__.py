"""RNNs (the RNNs page's engine): the course's RNN, LSTM and GRU cells, deep and
bidirectional wrappers, gradients through time, a character-level language model and a
bidirectional tagging task."""

from core.rnn.cells import (
    CELLS,
    GATES,
    BidirectionalTagger,
    GRUCell,
    LSTMCell,
    Recurrent,
    RNNCell,
    TorchGRUCell,
    make_cell,
    run_cell,
)
from core.rnn.charlm import (
    CORPORA,
    CharLM,
    CharLMConfig,
    CharLMResult,
    CorpusError,
    Vocab,
    load_charlm,
    run_charlm,
    sample,
)
from core.rnn.gradients import ClipDemo, clipping_demo, gradient_table, input_gradient_norms, input_gradients
from core.rnn.tagging import TaggingConfig, TaggingResult, run_tagging, unidirectional_ceiling
from core.rnn.viewer import GateTrace, Viewer, random_viewer, trace_gates, viewer_from_charlm

__all__ = [
    "CELLS",
    "CORPORA",
    "GATES",
    "BidirectionalTagger",
    "CharLM",
    "CharLMConfig",
    "CharLMResult",
    "ClipDemo",
    "CorpusError",
    "GRUCell",
    "GateTrace",
    "LSTMCell",
    "RNNCell",
    "Recurrent",
    "TaggingConfig",
    "TaggingResult",
    "TorchGRUCell",
    "Viewer",
    "Vocab",
    "clipping_demo",
    "gradient_table",
    "input_gradient_norms",
    "input_gradients",
    "load_charlm",
    "make_cell",
    "random_viewer",
    "run_cell",
    "run_charlm",
    "run_tagging",
    "sample",
    "trace_gates",
    "unidirectional_ceiling",
    "viewer_from_charlm",
]
