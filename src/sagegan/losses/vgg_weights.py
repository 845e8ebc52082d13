"""Where the perceptual loss gets VGG weights: a user file or the VGG16 inside ``stlpips-pytorch``.

Nothing is ever downloaded. A user file is a torchvision-format state dict of VGG16 or VGG19: either
the whole classifier model (``features.N.*`` plus ``classifier.*``, which is ignored) or the trunk
alone (``features.N.*`` or bare ``N.*`` keys). The architecture is detected from the keys.

The ``stlpips-pytorch==0.0.2`` wheel contains ``weights/vST0.0/vgg_shift_tolerant.pth``: a
shift-tolerant LPIPS network (Ghildyal & Liu 2022) whose VGG16 trunk was fine-tuned on human
perceptual judgements with anti-aliased (blur) pooling. Its convolutions are stored as
``net.sliceK.IDX.{weight,bias}`` with indices shifted by the extra blur layers; they are mapped onto
torchvision's VGG16 indices in order. The blur filters (``filt``), the input scaling layer and the
linear heads (``lin*``) are not used.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from sagegan.errors import ConfigError
from sagegan.models.vgg import VGGFeatures, build_vgg, conv_layer_indices

STLPIPS_DISTRIBUTION = "stlpips-pytorch"
STLPIPS_PACKAGE = "stlpips_pytorch"
STLPIPS_VGG_FILE = ("weights", "vST0.0", "vgg_shift_tolerant.pth")
_STLPIPS_CONV_KEY = re.compile(r"^net\.slice\d+\.(\d+)\.(weight|bias)$")


def expected_keys(arch: str) -> set[str]:
    """The ``features.N.{weight,bias}`` keys of a torchvision VGG trunk."""
    return {f"features.{i}.{kind}" for i in conv_layer_indices(arch) for kind in ("weight", "bias")}


def trunk_state_dict(raw: Mapping[str, Tensor], source: str) -> tuple[str, dict[str, Tensor]]:
    """Architecture name and ``features.N.*`` state dict of a torchvision-format VGG state dict.

    ``source`` names the file in error messages.
    """
    trunk: dict[str, Tensor] = {}
    for key, value in raw.items():
        if key.startswith("classifier."):
            continue
        trunk[key if key.startswith("features.") else f"features.{key}"] = value
    for arch in ("vgg19", "vgg16"):
        if set(trunk) == expected_keys(arch):
            return arch, trunk
    sample = ", ".join(list(raw)[:3])
    raise ConfigError(
        f"{source}: not a torchvision VGG16/VGG19 state dict (expected keys features.0.weight, "
        f"...; found {sample}, ...)"
    )


def load_vgg_file(path: str | Path) -> VGGFeatures:
    """A VGG trunk from a torchvision-format ``.pth`` state dict (architecture from its keys)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: VGG weights file not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or non-tensor pickles
        raise ConfigError(f"{path}: cannot read VGG weights ({type(error).__name__})") from error
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a state dict, found {type(raw).__name__}")
    arch, trunk = trunk_state_dict(raw, str(path))
    try:
        return build_vgg(arch, trunk)
    except RuntimeError as error:
        raise ConfigError(f"{path}: tensor shapes do not match {arch}") from error


def find_stlpips_vgg_weights() -> Path | None:
    """Path of the VGG16 weights inside the installed ``stlpips-pytorch`` (never imports it)."""
    spec = importlib.util.find_spec(STLPIPS_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location).joinpath(*STLPIPS_VGG_FILE)
            if candidate.is_file():
                return candidate
    try:
        files = importlib.metadata.files(STLPIPS_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    wanted = "/".join((STLPIPS_PACKAGE, *STLPIPS_VGG_FILE))
    for file in files:
        if str(file).replace("\\", "/") == wanted:
            candidate = Path(str(file.locate()))
            if candidate.is_file():
                return candidate
    return None


def stlpips_version() -> str:
    """Installed version of ``stlpips-pytorch`` (``"unknown"`` when its metadata is missing)."""
    try:
        return importlib.metadata.version(STLPIPS_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def stlpips_to_torchvision(raw: Mapping[str, Tensor], source: str) -> dict[str, Tensor]:
    """Map the ``net.sliceK.IDX.*`` convolutions of the stlpips file onto VGG16 keys, in order."""
    convs: dict[int, dict[str, Tensor]] = {}
    for key, value in raw.items():
        match = _STLPIPS_CONV_KEY.match(key)
        if match is not None and value.dim() in (1, 4):
            convs.setdefault(int(match.group(1)), {})[match.group(2)] = value
    targets = conv_layer_indices("vgg16")
    if len(convs) != len(targets) or any(len(pair) != 2 for pair in convs.values()):
        raise ConfigError(f"{source}: expected 13 VGG16 convolutions, found {len(convs)}")
    trunk: dict[str, Tensor] = {}
    for target, index in zip(targets, sorted(convs), strict=True):
        trunk[f"features.{target}.weight"] = convs[index]["weight"]
        trunk[f"features.{target}.bias"] = convs[index]["bias"]
    return trunk


def load_stlpips_vgg(path: str | Path) -> VGGFeatures:
    """VGG16 trunk with the convolution weights of the shift-tolerant LPIPS file at ``path``."""
    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or non-tensor pickles
        raise ConfigError(
            f"{path}: cannot read stlpips VGG weights ({type(error).__name__})"
        ) from error
    try:
        return build_vgg("vgg16", stlpips_to_torchvision(raw, str(path)))
    except RuntimeError as error:
        raise ConfigError(f"{path}: tensor shapes do not match vgg16") from error
