"End-to-end checks of `catdog.learner` on a small synthetic task (the real data layer is tested elsewhere)."
import copy, os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from catdog.learner import (Learner, accuracy, error_rate, SGD, Callback, CancelFitException, NonFiniteLossError,
                            SuggestedLRs)


class SynthData:
    "Test double of `catdog.data.ImageData`: noise images whose class is the slightly brighter channel."
    def __init__(self, path, n_trn=512, n_val=256, bs=64, sz=16, c=2, shift=0.15, seed=0):
        g = torch.Generator().manual_seed(seed)
        def ds(n):
            y = torch.randint(0, c, (n,), generator=g)
            x = torch.randn(n, 3, sz, sz, generator=g)
            x[torch.arange(n), y] += shift
            return TensorDataset(x, y)
        self.train_ds, self.valid_ds, self.test_ds = ds(n_trn), ds(n_val), ds(40)
        self.train_dl = DataLoader(self.train_ds, bs, shuffle=True)
        self.valid_dl, self.test_dl = DataLoader(self.valid_ds, bs * 2), DataLoader(self.test_ds, bs * 2)
        self.c, self.classes, self.path, self.bs = c, [f'class{i}' for i in range(c)], Path(path), bs


def tiny_cnn(c=2):
    return nn.Sequential(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
                         nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU()),
                         nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, c)))


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv('CATDOG_HOME', str(tmp_path / 'home'))
    return SynthData(tmp_path / 'data')


def mk(data, c=None, seed=0, **kw):
    torch.manual_seed(seed)
    m = tiny_cnn(c or data.c)
    kw.setdefault('quiet', True)
    return Learner(data, m, metrics=[accuracy, error_rate], layer_groups=list(m), **kw)


def state(learn): return {k: v.detach().clone() for k, v in learn.model.state_dict().items()}


def test_learns_above_chance(data):
    learn = mk(data)
    learn.fit_one_cycle(3, 3e-2)
    trn_loss, val_loss, acc, err = learn.recorder.values[-1]
    assert acc > 0.85 and abs(acc + err - 1) < 1e-6
    assert val_loss < learn.recorder.values[0][1] and val_loss < 0.5  # log(2) = 0.69 is chance
    probs, targs = learn.get_preds()
    assert probs.shape == (256, 2) and torch.equal(targs, data.valid_ds.tensors[1])
    assert abs(float(accuracy(probs, targs)) - acc) < 1e-6
    assert abs(accuracy(probs.log().numpy(), targs.numpy()) - acc) < 1e-6  # the lesson's numpy log-preds


def test_sgd_and_sgdr_learn(data):
    learn = mk(data, opt_func=SGD)
    learn.fit_sgdr(np.array([0.05, 0.1, 0.2]), 3, cycle_len=1, cycle_mult=2)  # 1 + 2 + 4 epochs (with 3, some seeds end below 0.8)
    assert len(learn.sched.values) == 7 and learn.sched.values[-1][2] > 0.8
    lrs = np.array(learn.sched.lrs)
    assert np.allclose(lrs[len(data.train_dl)], [0.05, 0.1, 0.2])  # restart at the first batch of cycle 2
    assert learn.get_hyper('mom') == [0.9] * 3


def test_lr_find_restores_and_repeats(data):
    learn = mk(data)
    learn.fit(1, 1e-2)
    w0, o0 = state(learn), copy.deepcopy(learn.opt.state_dict())
    torch.manual_seed(3); s1 = learn.lr_find(end_lr=1e3, num_it=60)
    curve1 = list(learn.recorder.losses)
    w1, o1 = state(learn), learn.opt.state_dict()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # weights and BatchNorm running stats, bit for bit
    assert all(torch.equal(o0['state'][i][k], o1['state'][i][k]) for i in o0['state'] for k in o0['state'][i])
    assert o0['param_groups'] == o1['param_groups']
    torch.manual_seed(3); s2 = learn.lr_find(end_lr=1e3, num_it=60)
    assert learn.recorder.losses == curve1 and s1 == s2
    assert isinstance(s1, SuggestedLRs) and 1e-7 < s1.lr_min < 10 and 1e-7 < s1.lr_steep < 10
    lrs = np.array(learn.recorder.lrs)[:, -1]
    assert np.isclose(lrs[0], 1e-7) and (np.diff(lrs) > 0).all()
    assert len(lrs) < 60  # stopped when the loss diverged (up to 10, about half of the seeds never diverge)


def test_lr_find_without_optimiser_leaves_none(data):
    learn = mk(data)
    w0 = state(learn)
    learn.lr_find(num_it=20)
    assert learn.opt is None and all(torch.equal(w0[k], v) for k, v in state(learn).items())
    fig = learn.sched.plot()
    assert fig.axes[0].get_xscale() == 'log' and fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()


def test_nan_loss_names_epoch_and_batch(data):
    learn = mk(data)
    learn.fit(1, 1e-2)
    w0 = state(learn)

    class NaNAt(Callback):
        order = -20
        def after_pred(self):
            if self.learn.training and self.learn.epoch == 1 and self.learn.iter == 2:
                self.learn.pred = self.learn.pred * float('nan')

    with pytest.raises(NonFiniteLossError, match=r'epoch 2/3, batch 3/8'):
        learn.fit(3, 1e-2, callbacks=NaNAt())
    assert not learn.fitting and not torch.is_autocast_enabled('cpu')  # cleaned up
    assert all(torch.isfinite(v).all() for v in state(learn).values() if v.is_floating_point())
    assert not torch.equal(w0['2.2.weight'], learn.model[2][2].weight)  # epoch 1 did train


def test_huge_lr_stops_with_clear_error(data):
    learn = mk(data, opt_func=SGD, precision='fp32')
    with pytest.raises(NonFiniteLossError, match=r'at epoch \d+/5, batch \d+/8.*learning rate'):
        learn.fit(5, 1e6)


def test_wrong_lr_array_length(data):
    learn = mk(data)
    with pytest.raises(ValueError, match='2 learning rates given for 3 layer groups'):
        learn.fit(1, np.array([1e-3, 1e-2]))
    with pytest.raises(ValueError, match='4 learning rates given for 3 layer groups'):
        learn.fit_one_cycle(1, [1e-4, 1e-3, 1e-2, 1e-1])
    with pytest.raises(ValueError, match='for 3 layer groups'):
        learn.fit_sgdr(np.array([1e-3]*5), 1, cycle_len=1)
    assert np.allclose(learn.lr_range(slice(1e-4, 1e-2)), [1e-4, 1e-3, 1e-2])
    assert np.allclose(learn.lr_range(slice(1e-2)), [1e-3, 1e-3, 1e-2])


def test_save_load_round_trip(data):
    learn = mk(data)
    learn.fit(1, 1e-2)
    fn = learn.save('m1')
    assert fn == data.path / 'models' / 'm1.pth' and fn.exists()
    p0, _ = learn.get_preds()
    other = mk(data, seed=1)
    assert not torch.allclose(other.get_preds()[0], p0)
    assert other.load('m1') is other
    assert torch.allclose(other.get_preds()[0], p0, atol=1e-6)
    assert other.opt.state_dict()['state'][0]['step'] == learn.opt.state_dict()['state'][0]['step']
    other.fit(1, 1e-2)  # and it trains on


def test_save_read_only_data_dir_redirects(data, tmp_path):
    learn = mk(data)
    data.path.mkdir(parents=True, exist_ok=True)
    os.chmod(data.path, 0o555)
    try:
        if os.access(data.path, os.W_OK): pytest.skip('running as a user that ignores permissions')
        with pytest.warns(UserWarning, match='not writable'): fn = learn.save('ro')
        assert fn.is_relative_to(tmp_path / 'home') and mk(data, seed=1).load('ro')
    finally: os.chmod(data.path, 0o755)


def test_load_other_number_of_classes(data):
    mk(data).save('two')
    with pytest.raises(ValueError, match=r"two\.pth.*layer '2\.2' \(2\.2\.weight\) has shape \(2, 16\) in the checkpoint but \(3, 16\)"):
        mk(data, c=3).load('two')


def test_load_corrupt_or_missing_file(data):
    learn = mk(data)
    fn = learn.save('good')
    (fn.parent / 'trunc.pth').write_bytes(fn.read_bytes()[:300])
    (fn.parent / 'junk.pth').write_bytes(b'this is not a checkpoint')
    for name in ('trunc', 'junk'):
        with pytest.raises(ValueError, match=rf'{name}\.pth.*corrupt'): learn.load(name)
    with pytest.raises(FileNotFoundError, match=r'nope\.pth does not exist'): learn.load('nope')
    torch.save({'model': {'foo': torch.zeros(1)}}, fn.parent / 'alien.pth')
    with pytest.raises(ValueError, match=r"alien\.pth does not fit.*missing"): learn.load('alien')


def test_bf16_within_noise_of_fp32(data):
    res = {}
    for p in ('fp32', 'bf16'):
        learn = mk(data, precision=p)
        torch.manual_seed(1)
        learn.fit(2, 1e-2)
        res[p] = learn.recorder.values[-1], learn.get_preds()[0], learn.mixed_precision.dtype
    assert res['fp32'][2] is None and res['bf16'][2] is torch.bfloat16
    (t32, v32, a32, _), (t16, v16, a16, _) = res['fp32'][0], res['bf16'][0]
    assert abs(v32 - v16) < 0.05 and abs(t32 - t16) < 0.05 and abs(a32 - a16) < 0.05
    assert (res['fp32'][1].argmax(1) == res['bf16'][1].argmax(1)).float().mean() > 0.9
    assert res['bf16'][1].dtype == torch.float32  # predictions and loss in fp32


def test_freezing_really_freezes(data):
    learn = mk(data)
    learn.freeze()
    w0 = state(learn)
    learn.fit(2, 1e-2)
    w1 = state(learn)
    changed = {k for k in w0 if not torch.equal(w0[k], w1[k])}
    assert changed and all(k.startswith('2.') for k in changed)  # weights AND running stats of groups 0, 1 unchanged
    learn.freeze_to(1)
    learn.fit(1, 1e-2)
    w2 = state(learn)
    assert all(torch.equal(w1[k], w2[k]) for k in w1 if k.startswith('0.'))
    assert not torch.equal(w1['1.1.running_mean'], w2['1.1.running_mean']) and not torch.equal(w1['1.0.weight'], w2['1.0.weight'])
    learn.unfreeze()
    learn.fit(1, 1e-2)
    assert not torch.equal(w2['0.0.weight'], state(learn)['0.0.weight'])


def test_train_bn_keeps_batchnorm_training(data):
    learn = mk(data, train_bn=True)
    learn.freeze()
    w0 = state(learn)
    learn.fit(1, 1e-2)
    w1 = state(learn)
    assert torch.equal(w0['0.0.weight'], w1['0.0.weight']) and torch.equal(w0['1.0.weight'], w1['1.0.weight'])
    assert not torch.equal(w0['0.1.weight'], w1['0.1.weight']) and not torch.equal(w0['1.1.running_var'], w1['1.1.running_var'])


def test_frozen_prefix_runs_without_grad_same_gradients(data):
    learn = mk(data, precision='fp32')
    learn.freeze()
    learn.training = True; learn._set_train_mode()
    assert learn._prefix is not None and len(learn._prefix[0]) == 6
    x, y = next(iter(data.train_dl))
    torch.manual_seed(0); out_fast = learn._forward(x)
    nn.functional.cross_entropy(out_fast, y).backward()
    g_fast = [p.grad.clone() for p in learn.model[2].parameters()]
    learn.model.zero_grad(set_to_none=True)
    learn.model.load_state_dict(state(learn))
    torch.manual_seed(0); out_full = learn.model(x)
    nn.functional.cross_entropy(out_full, y).backward()
    assert torch.allclose(out_fast, out_full, atol=1e-6)
    assert all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(g_fast, learn.model[2].parameters()))
    learn.training = False


def test_get_preds_with_loss_and_sets(data):
    learn = mk(data)
    learn.fit(1, 1e-2)
    probs, targs, losses = learn.get_preds(with_loss=True)
    assert torch.allclose(losses, -probs[torch.arange(len(probs)), targs].log(), atol=1e-4)
    assert learn.get_preds('test')[0].shape == (40, 2)
    assert learn.get_preds('train')[0].shape == (512, 2)
    data.test_dl = None
    with pytest.raises(ValueError, match='no test set'): learn.get_preds('test')


def test_no_validation_set(data):
    data.valid_dl = None
    learn = mk(data)
    learn.fit(2, 1e-2)
    assert [v[1:] for v in learn.recorder.values] == [[None, None, None]] * 2


def test_progress_output(data, capsys):
    learn = mk(data, quiet=False)
    learn.fit(2, 1e-2)
    out = capsys.readouterr().out
    assert 'epoch' in out and 'train_loss' in out and 'valid_loss' in out and 'accuracy' in out and 'time' in out
    mk(data).fit(1)
    assert 'train_loss' not in capsys.readouterr().out  # quiet


def test_plots_return_figures(data):
    from matplotlib.figure import Figure
    learn = mk(data)
    learn.fit_one_cycle(2, 1e-2)
    for fig in (learn.recorder.plot_lr(), learn.recorder.plot_lr(show_moms=True), learn.recorder.plot_losses()):
        assert isinstance(fig, Figure) and all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)


def test_new_data_checked_and_warning_names_callers_line(data, tmp_path):
    "`learn.data = data` refuses another number of classes; a renaming warns at the caller's line, through subclass setters too."
    import warnings
    from catdog.vision_learner import VisionLearner
    for cls in (Learner, VisionLearner):
        torch.manual_seed(0)
        learn = cls(data, tiny_cnn(), quiet=True)
        with pytest.raises(ValueError, match=r"3 classes \(class0, class1, class2\), but this learner's model predicts 2"):
            learn.data = SynthData(tmp_path/'d3', c=3)
        assert learn.data is data
        renamed = SynthData(tmp_path/'d2'); renamed.classes = ['cat', 'dog']
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            learn.data = renamed; line = __import__('inspect').currentframe().f_lineno
        assert [(x.filename, x.lineno) for x in w] == [(__file__, line)], [(x.filename, x.lineno, str(x.message)) for x in w]
        assert 'output i now means' in str(w[0].message) and learn.data is renamed
    with pytest.raises(ValueError, match=r"has 120 classes \(class0, class1, class2, class3, class4, class5, \.\.\., class119\), but"):
        big = SynthData(tmp_path/'d120'); big.c, big.classes = 120, [f'class{i}' for i in range(120)]
        learn.data = big  # a long list of classes is cut short


def test_new_data_normalised_as_the_models(data, tmp_path):
    "A `VisionLearner` normalises new data as its data was; data normalised otherwise warns at the caller's line."
    import inspect, warnings
    from catdog.transforms import Normalize
    from catdog.vision_learner import VisionLearner
    data.norm = Normalize((0.5,) * 3, (0.25,) * 3)
    learn = VisionLearner(data, tiny_cnn(), quiet=True)
    plain = SynthData(tmp_path/'plain'); plain.norm = None
    plain.normalize = lambda stats: setattr(plain, 'norm', Normalize(*stats))
    learn.data = plain
    assert plain.norm.stats == data.norm.stats
    other = SynthData(tmp_path/'other'); other.norm = Normalize((0.4,) * 3, (0.2,) * 3)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        learn.data = other; line = inspect.currentframe().f_lineno
    assert [(x.filename, x.lineno) for x in w] == [(__file__, line)], [(x.filename, x.lineno, str(x.message)) for x in w]
    assert 'the data is normalised with' in str(w[0].message)
    assert np.allclose(other.norm.stats, ((0.4,) * 3, (0.2,) * 3))  # kept
