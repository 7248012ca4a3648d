"""`reuse_heap` while a Learner trains Lite0 on real photos: the Learner enters it, and it changes no number."""
import pytest
import torch

from catdog import core
from catdog.all import ImageClassifierData, ConvLearner, tfms_from_model, efficientnet_lite0, transforms_side_on, defaults
from catdog.learner import Callback, CancelFitException
from test_models import SAMPLE

needs_sample = pytest.mark.skipif(not (SAMPLE/'valid'/'cats').is_dir(), reason='needs the dogscats sample ($CATDOG_SAMPLE)')
needs_glibc = pytest.mark.skipif(not core._heap_tunable(), reason="reuse_heap acts only on glibc's own malloc")


class _ThreeSteps(Callback):
    "Stops the fit after three training batches, noting whether each ran inside `reuse_heap`."
    def __init__(self): self.inside = []
    def after_batch(self):
        self.inside.append(core._heap['depth'] > 0)
        if self.learn.training and len(self.inside) == 3: raise CancelFitException()


def _three_steps(reuse:bool):
    "Parameters and validation-batch logits after three seeded unfrozen steps at bs 64 (blocks over 32 MB: glibc maps those alone)."
    old, defaults.reuse_heap = defaults.reuse_heap, reuse
    try:
        torch.manual_seed(0)
        data = ImageClassifierData.from_paths(SAMPLE, bs=64, num_workers=0, tfms=tfms_from_model(
            efficientnet_lite0, 224, aug_tfms=transforms_side_on, max_zoom=1.1))
        learn = ConvLearner.pretrained(efficientnet_lite0, data, quiet=True)
        learn.unfreeze()
        cb = _ThreeSteps()
        learn.fit([1e-4, 1e-3, 1e-2], 1, callbacks=[cb])
        x, _ = next(iter(data.valid_dl))  # normalised, as the model takes it
        with torch.no_grad(): logits = learn.model.eval()(x)
        return torch.cat([p.detach().flatten() for p in learn.model.parameters()]), logits, cb.inside
    finally: defaults.reuse_heap = old


@needs_sample
@needs_glibc
def test_reuse_heap_changes_no_number():
    p_on, y_on, inside_on = _three_steps(True)
    p_off, y_off, inside_off = _three_steps(False)
    assert inside_on == [True]*3 and inside_off == [False]*3
    assert core._heap['depth'] == 0  # left after the fit
    assert torch.equal(p_on, p_off) and torch.equal(y_on, y_off)
