"""The engine's names that the web layer shows, validates or stores, in one place it can import without PyTorch.

The registries (apps.nas.blocks.BLOCKS, apps.nas.backbones.BACKBONES, apps.nas.strategies.STRATEGIES) are
checked against these by the tests.
"""

# Building blocks a search space may use, with the words a person reads.
BLOCK_TYPES = {
    "plain": "Plain convolutions",
    "residual": "Residual blocks",
    "mbconv": "Mobile inverted bottlenecks (MBConv)",
    "dwsep": "Depthwise-separable convolutions",
}

# Pretrained ImageNet networks a search may start from (apps.nas.backbones), with the words a person reads.
BACKBONE_NAMES = {
    "lite0": "EfficientNet-Lite0",
    "lite1": "EfficientNet-Lite1",
    "lite2": "EfficientNet-Lite2",
}

# What apps.nas.backbones.PretrainedNetwork.stages() lists: the stem, seven stages of blocks, the head convolution.
# A pretrained candidate's "finetune" counts how many of the last ones learn.
BACKBONE_STAGES = 9

# Search strategies, with the words a person reads.
STRATEGIES = {
    "auto": "Automatic (recommended)",
    "tpe": "Bayesian (TPE)",
    "evolution": "Evolution",
    "rl": "Reinforcement learning",
    "random": "Random",
}

# What a finished run writes into its work_dir, by artifact name.
ARTIFACT_FILES = {
    "bundle": "bundle.zip",
    "onnx": "model.onnx",
    "torchscript": "model.torchscript.pt",
    "weights": "weights.pt",
    "genotype": "genotype.json",
    "result": "result.json",
}
