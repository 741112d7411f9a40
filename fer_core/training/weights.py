"""Starting weights cut from a wider trained network (pruning)."""

from __future__ import annotations

import numpy as np


def pruned_weights(big, small) -> list[np.ndarray]:
    """Weights for `small` (a narrower `build_vgg` of as many convolutions) cut from the trained `big`:
    each convolution keeps the output channels that weigh most, the sum of a filter's absolute weights
    times its batch norm's scale (gamma / sqrt(var + eps)), as in Li et al. 2017, "Pruning Filters for
    Efficient ConvNets"; the next layer keeps the matching input channels. The cut network reads little
    until it is fine-tuned: a start for a smaller model, not one."""
    from keras import layers

    big_convs = [layer for layer in big.layers if isinstance(layer, layers.Conv2D)]
    small_convs = [layer for layer in small.layers if isinstance(layer, layers.Conv2D)]
    if len(big_convs) != len(small_convs):
        raise ValueError(f"the model to prune has {len(big_convs)} convolutions, the network {len(small_convs)}")
    saved = small.get_weights()

    def norm_after(model, layer):  # every convolution and the hidden dense layer feed a batch norm
        return model.layers[model.layers.index(layer) + 1]

    kept = np.arange(1)  # the input's one channel
    for big_conv, small_conv in zip(big_convs, small_convs):
        kernel = big_conv.get_weights()[0][:, :, kept, :]
        norm = norm_after(big, big_conv)
        gamma, beta, mean, variance = norm.get_weights()
        weight = np.abs(kernel).sum(axis=(0, 1, 2)) * np.abs(gamma) / np.sqrt(variance + norm.epsilon)
        width = small_conv.filters
        if width > len(weight):
            raise ValueError(f"{big_conv.name} has {len(weight)} channels, fewer than the {width} asked for")
        kept = np.sort(np.argsort(-weight, kind="stable")[:width])
        small_conv.set_weights([kernel[..., kept]])
        norm_after(small, small_conv).set_weights([w[kept] for w in (gamma, beta, mean, variance)])
    (big_hidden, big_head), (small_hidden, small_head) = (
        [layer for layer in model.layers if isinstance(layer, layers.Dense)] for model in (big, small)
    )
    small_hidden.set_weights([big_hidden.get_weights()[0][kept]])
    norm_after(small, small_hidden).set_weights(norm_after(big, big_hidden).get_weights())
    small_head.set_weights(big_head.get_weights())
    cut = small.get_weights()
    small.set_weights(saved)
    return cut
