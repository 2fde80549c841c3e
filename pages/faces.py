"""Face recognition: the triplet loss, a siamese network trained with online triplet mining,
one-shot verification on identities never seen in training, and two images compared."""

from ui import shell
from ui.faces import evaluation, training, views

shell.topic_page(
    "Face recognition",
    "Recognising a person from a single stored photo is **one-shot learning**: there is no time to train a "
    "classifier per person. Instead a network learns an embedding in which photos of the same person lie close "
    "together and photos of different people lie far apart; two photos then match when their distance is "
    "below a threshold τ. **Try:** play with the triplet loss first, train a network (offline, digits stand in "
    "for people; with internet, real faces), then judge it on identities it never saw and compare two images "
    "of your own.",
    {
        "Triplet loss": views.render_explorer,
        "Train a siamese network": training.render_training,
        "One-shot evaluation": evaluation.render_evaluation,
        "Verify two images": evaluation.render_verify,
    },
)
