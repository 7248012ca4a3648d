"""catdog.fastconv on real photos: the turned copy decides as the model does; the fast depthwise backward and the frozen BatchNorm folded for training stay within bf16's noise."""
import torch
from torch import nn

from catdog.models import models, create_body, create_head, fold_bn
from catdog.fastconv import fast_depthwise, plain_depthwise, unpad_same, Rot180, fold_frozen_bn, unfold_frozen_bn
from test_models import SAMPLE, _valid_batches, _zero_shot

import pytest
needs_sample = pytest.mark.skipif(not (SAMPLE/'valid'/'cats').is_dir(), reason='needs the dogscats sample ($CATDOG_SAMPLE)')

@needs_sample
def test_unpad_same_decides_as_the_model():
    "Lite0's whole ImageNet classifier, folded and turned, against folded only: same zero-shot score, same logits in fp32."
    folded = fold_bn(models.efficientnet_lite0().eval()).to(memory_format=torch.channels_last)
    turned = unpad_same(folded)
    assert isinstance(turned, Rot180)
    acc_f, n = _zero_shot(folded)
    acc_t, _ = _zero_shot(turned)
    assert n == 500 and acc_f >= 0.85 and abs(acc_t - acc_f) <= 0.004, (acc_f, acc_t)  # bf16: at most 2 photos differ
    x, _ = next(_valid_batches(models.efficientnet_lite0, bs=8))
    with torch.no_grad(): a, b = folded(x), turned(x)
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-3 * a.abs().max().item())

@pytest.fixture(scope='module')
def lite0_grads():
    "`(model, grads, g32, g16)`: Lite0 + head with the body's BatchNorm in eval mode (as model_meta's bn_eval has it), `grads(bf16)` of a batch of real photos, and its fp32 and PyTorch-bf16 gradients."
    torch.manual_seed(0)
    model = nn.Sequential(create_body(models.efficientnet_lite0), create_head(2560, 2, ps=0.)).to(memory_format=torch.channels_last)
    for m in model[0].modules():
        if isinstance(m, nn.BatchNorm2d): m.eval()
    x, y = next(_valid_batches(models.efficientnet_lite0, bs=16, mixed=True))
    def grads(bf16):
        model.zero_grad()
        torch.manual_seed(0)  # the same stochastic-depth masks in each run
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): loss = nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        return torch.cat([p.grad.flatten().float() for p in model.parameters()])
    return model, grads, grads(False), grads(True)

@needs_sample
def test_fast_depthwise_within_bf16_noise(lite0_grads):
    "Gradients of Lite0 + head on real photos: the fast backward is as close to the fp32 path as PyTorch's own bf16 path."
    model, grads, g32, g16 = lite0_grads
    assert fast_depthwise(model) == 16
    try: g_fast = grads(True)
    finally: plain_depthwise(model)
    noise = (g16 - g32).norm() / g32.norm()
    assert (g_fast - g32).norm() / g32.norm() <= 1.1 * noise + 1e-3, ((g_fast - g32).norm() / g32.norm(), noise)
    assert (g_fast - g16).norm() / g16.norm() < 0.05

@needs_sample
def test_fold_frozen_bn_within_bf16_noise(lite0_grads):
    "Gradients of Lite0 + head on real photos, trained as the Learner does (fast depthwise backward, frozen BatchNorm folded into the convolutions): in fp32 the fold gives fp32's gradients, under bf16 about as close to them as PyTorch's own bf16 path (within 1.5 times its distance)."
    model, grads, g32, g16 = lite0_grads
    assert fold_frozen_bn(model) == 49
    try:
        g32_fold = grads(False)
        fast_depthwise(model)
        try: g_fast = grads(True)
        finally: plain_depthwise(model)
    finally: unfold_frozen_bn(model)
    noise = (g16 - g32).norm() / g32.norm()  # 0.35 here: bf16's own distance from fp32
    assert (g32_fold - g32).norm() / g32.norm() < min(1e-2, noise / 10)  # rounding (2e-3 here), far below bf16's noise
    # bf16 rounds the folded weights and bias instead of the convolution's output and the BatchNorm's: 0.42 here
    assert (g_fast - g32).norm() / g32.norm() <= 1.5 * noise + 1e-3, ((g_fast - g32).norm() / g32.norm(), noise)
