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

# The same networks by size, for a candidate's plain name (apps.nas.leaderboard.plain_name).
BACKBONE_SIZES = {"lite0": "small", "lite1": "medium", "lite2": "large"}

# What apps.nas.backbones.PretrainedNetwork.stages() lists: the stem, seven stages of blocks, the head convolution.
# A pretrained candidate's "finetune" counts how many of the last ones learn.
BACKBONE_STAGES = 9

# Search strategies, with the words a person reads.
STRATEGIES = {
    "auto": "Automatic (recommended)",
    "tpe": "Bayesian (TPE)",
    "evolution": "Evolution",
    "rl": "Reinforcement learning",
    "oneshot": "One-shot (gradient-based)",
    "random": "Random",
}

# What each strategy does and when it is a good choice, in one sentence for a person with no machine-learning
# background; the new-run page, the API schema and the CLI's --help show it beside the name.
STRATEGY_SENTENCES = {
    "auto": "Starts from networks known to work, including a quick test of a network pretrained on photos, then "
            "spends the rest of the time on variations where the scores point, stopping weak ones early: the best "
            "choice for almost every search.",
    "tpe": "Keeps a statistical picture of which settings scored well so far and proposes each next candidate "
           "from it, with no head start and no early stopping: a good choice to see what a search finds on its "
           "own.",
    "evolution": "Builds each new candidate by changing one detail of a strong recent one, after a first group "
                 "drawn at random: a good choice for long searches, where small improvements add up.",
    "rl": "Starts from one network known to work, then a controller learns from every result which choices pay "
          "and makes them more likely in the next candidates: it needs many candidates to learn, so it suits long "
          "searches.",
    "oneshot": "First trains one large network that contains every candidate built from scratch and learns which "
               "choices help, then trains NASweb's proven network changed where it learned clearly, and more "
               "candidates drawn from what it learned: quick to point the way, but it leaves pretrained networks "
               "aside.",
    "random": "Tries candidates drawn at random, each independent of the others: a fair yardstick to measure the "
              "other strategies against, rarely the best choice on its own.",
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
