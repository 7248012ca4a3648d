"""`SaveModelCallback` and `EarlyStoppingCallback` on real photos: a fit whose validation loss goes up and down
ends on its best epoch's weights, and stops at the first epoch that does not improve (`06b_tracker` tests the rules
on scripted values)."""
import random, shutil
from functools import partial

import pytest
import torch

from catdog.all import (ImageDataBunch, create_cnn, get_transforms, models, accuracy, SaveModelCallback,
                        EarlyStoppingCallback)


@pytest.fixture
def photos(sample_path, tmp_path, monkeypatch):
    "60 + 60 training and 40 + 40 validation photos of the sample, copied (the models are saved beside them)."
    monkeypatch.setenv('CATDOG_HOME', str(tmp_path/'home'))
    rng = random.Random(0)
    for split, n in (('train', 60), ('valid', 40)):
        for c in ('cats', 'dogs'):
            (tmp_path/'data'/split/c).mkdir(parents=True)
            for f in rng.sample(sorted((sample_path/split/c).iterdir()), n): shutil.copy(f, tmp_path/'data'/split/c/f.name)
    return tmp_path/'data'


def test_best_epoch_comes_back_and_fit_stops(photos):
    torch.manual_seed(0)
    data = ImageDataBunch.from_folder(photos, ds_tfms=get_transforms(), size=128, bs=16)
    learn = create_cnn(data, models.efficientnet_lite0, metrics=[accuracy], quiet=True,
                       callback_fns=[SaveModelCallback, partial(EarlyStoppingCallback, patience=0)])  # both on valid_loss
    learn.fit(4, 0.05)  # a rate too high for the head: its validation loss jumps about
    vl = [v[1] for v in learn.recorder.values]
    n = len(vl)
    assert n < 4, f"no early stop: validation losses {vl}"  # seed 0 on this machine: 0.06 then 0.37
    assert all(vl[i] < vl[i - 1] for i in range(1, n - 1)) and vl[-1] >= min(vl[:-1]), vl  # stopped at the first epoch no better
    loss, acc = learn.validate()
    assert loss == pytest.approx(min(vl), abs=1e-4), (loss, vl)  # the weights of the best epoch, not of the last
    assert acc == pytest.approx(learn.recorder.values[vl.index(min(vl))][2], abs=1e-6)
    assert acc > 0.85  # a pretrained body: far above chance (0.5)
    assert (photos/'models'/'bestmodel.pth').is_file()
