"""The RNN page's character-level language model (:func:`core.rnn.charlm.run_charlm`) as a notebook: the
exact text it learned from (written into the notebook), the vocabulary, the seeded split into training and
dev text, the windows, the embedding → RNN/LSTM/GRU → linear network, the loop and a few samples."""

from __future__ import annotations

from core.export import snippets
from core.export.notebook import Cell, Export, code, md
from core.rnn.charlm import CharLMConfig, make_windows, prepare_text, sequence_cross_entropy, split_train_dev

MAX_TEXT = 400_000  # characters the notebook carries as a literal


def charlm(cfg: CharLMConfig, *, device: str = "auto") -> Export:
    """The training ``cfg`` as code; ``final`` holds the run's final train and dev loss (cross-entropy
    per character, in nats). ``ValueError`` for a text too long to carry or without a dev part."""
    if not isinstance(cfg, CharLMConfig):
        raise ValueError("the character model's export needs a CharLMConfig")
    cfg.check()
    text, lines = prepare_text(cfg)
    if len(text) > MAX_TEXT:
        raise ValueError(f"the text has {len(text):,} characters; a notebook carries at most {MAX_TEXT:,}")
    if len(split_train_dev(text, lines, cfg.dev_fraction, cfg.seed)[1]) <= cfg.seq_len + 1:
        raise ValueError("the dev part of the text is shorter than one window: raise the dev fraction")
    cells: list[Cell] = [
        snippets.settings_table(cfg.params(), (
            "The character-level language model of the lab's RNN page as plain PyTorch: it reads the text one "
            "character at a time and learns to predict the next one. Run the cells from the top; the numbers at "
            "the end are those of the lab's tracked run (on the same kind of device).")),
        snippets.device_cell(device),
        md(f"""
            ## The text
            The exact text the lab trained on ({len(text):,} characters{", one entry per line" if lines else ""}),
            written into the notebook so it needs nothing else. **Try:** put your own text here."""),
        code("""
            TEXT = $corpus
            LINES = $lines  # a list of entries (shuffled by line) or running text (cut at the end)
        """, corpus=text, lines=lines),
        md("""
            ## Characters, training and dev text, windows
            The vocabulary is every character of the text, sorted. The lab's own functions below split the text
            (list corpora: the lines shuffled with the seed, the first dev_fraction of them for dev; running
            text: its last part) and cut it into windows: X holds seq_len characters and y the character that
            follows each of them. Training windows overlap by half."""),
        code("""
            from torch import Tensor  # the functions below name it in their signatures

            CHARS = sorted(set(TEXT + "\\n"))
            INDEX = {c: i for i, c in enumerate(CHARS)}


            def encode(s):
                return torch.tensor([INDEX[c] for c in s], dtype=torch.int64)
        """),
        snippets.source_of(split_train_dev, make_windows, sequence_cross_entropy),
        code("""
            train_text, dev_text = split_train_dev(TEXT, LINES, $dev_fraction, $seed)
            X, y = make_windows(encode(train_text), $seq_len, stride=$stride)
            train = X.to(DEVICE), y.to(DEVICE)
            dev = tuple(t.to(DEVICE) for t in make_windows(encode(dev_text), $seq_len))
            print(len(CHARS), "characters,", len(y), "training and", len(dev[1]), "dev windows")
        """, dev_fraction=float(cfg.dev_fraction), seed=cfg.seed, seq_len=cfg.seq_len, stride=max(cfg.seq_len // 2, 1)),
        md(f"""
            ## The network
            Each character id becomes a vector of {cfg.embedding_size} numbers (the embedding), a
            {cfg.num_layers}-layer {cfg.cell} with {cfg.hidden_size} hidden units reads them in order, and a
            linear layer turns its state at every position into scores for the next character. PyTorch's
            `nn.{cfg.cell}` is the same computation the course writes out cell by cell."""),
        code("""
            class CharLM(nn.Module):
                def __init__(self, vocab_size, cell, embedding_size, hidden_size, num_layers):
                    super().__init__()
                    self.embed = nn.Embedding(vocab_size, embedding_size)
                    self.rnn = getattr(nn, cell)(embedding_size, hidden_size, num_layers=num_layers, batch_first=True)
                    self.head = nn.Linear(hidden_size, vocab_size)

                def step(self, x, state=None):
                    out, state = self.rnn(self.embed(x), state)  # (N, T, H)
                    return self.head(out), state

                def forward(self, x):
                    return self.step(x)[0]  # (N, T, V)
        """),
        *snippets.optimizer_cells([cfg.optimizer]),
        *snippets.fit_cells(),
        md("""
            ## The training
            Seeded as the lab seeds it (Python, NumPy and PyTorch) just before building the network, so the
            initial weights are the same; the loss is the cross-entropy of every position of every window."""),
        code("""
            random.seed($seed)
            np.random.seed($seed)
            torch.manual_seed($seed)
            model = CharLM(len(CHARS), $cell, $emb, $hidden, $layers).to(DEVICE)
            optimizer = make_optimizer($opt, model.parameters(), $lr)
            final = fit(model, optimizer, train, dev, epochs=$epochs, batch_size=$bs, seed=$seed,
                        loss_fn=sequence_cross_entropy)
            print("dev perplexity", math.exp(final["final_dev_loss"]))
        """, seed=cfg.seed, cell=cfg.cell, emb=cfg.embedding_size, hidden=cfg.hidden_size, layers=cfg.num_layers,
             opt=cfg.optimizer, lr=float(cfg.lr), epochs=cfg.epochs, bs=cfg.batch_size),
        md("""
            ## A few samples
            Start from a newline and draw one character at a time from softmax(scores / temperature) until
            the next newline. **Try:** a temperature of 0.3 (safe, repetitive) or 1.5 (wild)."""),
        code("""
            @torch.no_grad()
            def sample(n=$n, temperature=$temperature, max_len=$max_len, seed=0):
                model.eval()
                generator = torch.Generator().manual_seed(seed)
                out, state = model.step(encode("\\n").to(DEVICE)[None].repeat(n, 1))
                last, rows = out[:, -1].float().cpu(), [[] for _ in range(n)]
                for _ in range(max_len):
                    nxt = (last.argmax(1) if temperature <= 1e-6 else
                           torch.multinomial(torch.softmax(last / temperature, 1), 1, generator=generator)[:, 0])
                    for row, i in zip(rows, nxt.tolist()):
                        row.append(CHARS[i])
                    out, state = model.step(nxt[:, None].to(DEVICE), state)
                    last = out[:, -1].float().cpu()
                return ["".join(row).split("\\n")[0] if LINES else "".join(row) for row in rows]


            for line in sample():
                print(line)
        """, n=cfg.n_samples, temperature=float(cfg.temperature), max_len=30 if lines else 120),
        *snippets.final_cell("the final training and dev loss (cross-entropy per character, in nats)"),
    ]
    name = "".join(c if c.isascii() and c.isalnum() else "_" for c in (cfg.text_name or cfg.corpus))
    return Export(f"charlm_{cfg.cell}_{name}", f"A {cfg.cell} character model on {cfg.text_name or cfg.corpus}",
                  tuple(cells))
