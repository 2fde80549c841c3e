"""Transfer learning: the learner's own classes, a pretrained ImageNet network against the same network
from scratch, predictions with class activation maps, and the trained model to take away."""

from ui import shell
from ui.transfer import classes, training, use

shell.topic_page(
    "Transfer learning",
    "Networks such as VGG and ResNet were trained on ImageNet's photos of 1,000 kinds of things; the features "
    "they learned — edges, textures, parts — are useful far beyond those classes. Here you teach one **your own "
    "classes** with a few dozen pictures, and see how much the pretrained features help against the same "
    "network learning from nothing. **Try:** make your classes, train, then show the network a new picture "
    "and look where it looked.",
    {"1 · Your classes": classes.render, "2 · Train": training.render, "3 · Try it and export": use.render},
)
