"""Transfer learning on the learner's own classes (the Transfer learning page).

- ``backbones``: ImageNet backbones (ResNet-18, MobileNetV3-Small, VGG-16) through the torch hub
  cache, cut into blocks, frozen or partly fine-tuned, with a new head (:class:`TransferNet`).
- ``data``: class-set limits and checks, the built-in example sets, preprocessing, the dev split.
- ``augment``: flips, crops, turns and colour changes on the device, inside the network.
- ``training``: the pretrained and from-scratch lanes as one tracked job (:func:`run_transfer`).
- ``cam``: predictions with Grad-CAM / CAM heat maps.
- ``export``: TorchScript, ONNX, labels and a README to take the network away.
"""
