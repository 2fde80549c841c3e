"""CNNs: the convolution explorer, classic architectures, training, looking inside a
trained network, and plain against residual networks."""

from ui import shell
from ui.cnn import architectures, explorer, inside, training

shell.topic_page(
    "Convolutional networks",
    "A convolutional network slides small filters over an image; each filter answers one question "
    "(\"is there a vertical edge here?\") at every position, and stacking such layers builds edges "
    "into textures, parts and objects. **Try:** start with the convolution explorer, then look at how "
    "LeNet-5, AlexNet, VGG and ResNet are built, train one on digits, and look inside what it learned.",
    {
        "Convolution explorer": explorer.render,
        "Architectures": architectures.render,
        "Train a CNN": training.render,
        "Inside the network": inside.render,
        "Plain vs residual": training.render_degradation,
    },
)
