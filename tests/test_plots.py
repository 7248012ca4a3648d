"""Plots of `catdog.interpret`, rendered to PNG: not blank, the expected axes and images, legible labels.

Mostly synthetic data (generated pictures, made-up predictions); the augmentation grid and the Grad-CAM heatmaps
use the shared sample's photos, as do the course notebooks.
Set CATDOG_KEEP_PNG=some/dir to keep the rendered PNGs for a look.
"""
import os, warnings
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault('MPLBACKEND', 'Agg')
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import confusion_matrix

from catdog.interpret import ClassificationInterpretation, plot_confusion_matrix, plots

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


class SynthDataset:
    "Stand-in for `ImageDataset`: random-coloured blocks per item, normalised; `denorm` gives HWC in [0,1]."
    def __init__(self, y, classes, sz=48, seed=0):
        rng = np.random.default_rng(seed)
        self.y, self.classes, self.c = np.asarray(y), list(classes), len(classes)
        self.ims = []
        for c in self.y:
            im = np.empty((sz, sz, 3)); im[:] = rng.random(3)
            a, b = sorted(rng.integers(0, sz, 2)); im[a:b + 4, a:b + 4] = [(c * 0.37) % 1, 0.2, 1 - (c * 0.37) % 1]
            self.ims.append(im)
    def __len__(self): return len(self.y)
    def __getitem__(self, i):
        return torch.tensor(((self.ims[i] - MEAN) / STD).transpose(2, 0, 1), dtype=torch.float32), int(self.y[i])
    def denorm(self, x):
        x = np.moveaxis(x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x), -3, -1)
        return np.clip(x * STD + MEAN, 0, 1)


def render(fig, tmp_path, name):
    "Save `fig` as PNG, load it back with PIL: (H, W, 3) uint8."
    out = Path(os.environ.get('CATDOG_KEEP_PNG') or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out/f'{name}.png', dpi=72)
    return np.asarray(Image.open(out/f'{name}.png').convert('RGB'))


def assert_not_blank(px, min_std=20.):
    gray = px.astype(np.float64).mean(-1)
    assert gray.std() > min_std, f'image looks blank (pixel std {gray.std():.1f})'


def extents(artists, fig):
    "Window extents (pixels) of `artists`, drawn on an Agg canvas (a figure released from pyplot has none)."
    if not isinstance(fig.canvas, FigureCanvasAgg): FigureCanvasAgg(fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return [a.get_window_extent(r) for a in artists]


def assert_no_overlap(bbs, what):
    for a, b in zip(bbs, bbs[1:]):
        assert not a.overlaps(b), f'{what} overlap: {a} and {b}'


def assert_inside(bbs, fig, what):
    W, H = fig.canvas.get_width_height()
    for b in bbs: assert b.x0 >= -1 and b.y0 >= -1 and b.x1 <= W + 1 and b.y1 <= H + 1, f'{what} cut off: {b} in {W}x{H}'


def test_blank_check_can_fail(tmp_path):
    fig = Figure(figsize=(3, 3))
    with pytest.raises(AssertionError, match='blank'): assert_not_blank(render(fig, tmp_path, 'blank'))


def test_confusion_matrix_2_classes(tmp_path):
    y = np.array([0] * 30 + [1] * 20)
    p = y.copy(); p[:4] = 1; p[-7:] = 0
    cm = confusion_matrix(y, p)
    fig = plot_confusion_matrix(cm, ['cats', 'dogs'])
    assert isinstance(fig, Figure)
    px = render(fig, tmp_path, 'cm2')
    assert_not_blank(px)
    ax, cbar = fig.axes                                    # the matrix and its colour bar
    assert len(ax.images) == 1 and ax.get_title() == 'Confusion matrix'
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    assert [t.get_text() for t in ax.texts] == ['26', '4', '7', '13']
    assert [t.get_text() for t in ax.get_xticklabels()] == ['cats', 'dogs']
    assert [t.get_text() for t in ax.get_yticklabels()] == ['cats', 'dogs']
    assert ax.get_ylabel() == 'Actual' and ax.get_xlabel() == 'Predicted'
    assert_inside(extents(ax.get_xticklabels() + ax.get_yticklabels() + [ax.title], fig), fig, 'labels')
    # the darkest cell gets light text, a pale one dark text
    assert ax.texts[0].get_color() == 'white' and ax.texts[1].get_color() == 'black'
    fig = plot_confusion_matrix(cm, ['cats', 'dogs'], normalize=True, title='Normalised', cmap='viridis')
    assert [t.get_text() for t in fig.axes[0].texts] == ['0.87', '0.13', '0.35', '0.65']
    assert_not_blank(render(fig, tmp_path, 'cm2_norm'))


def test_confusion_matrix_32_classes_readable(tmp_path):
    rng = np.random.default_rng(0)
    classes = [f'class_name_{i:02d}' for i in range(32)]
    y = rng.integers(0, 32, 4000)
    p = np.where(rng.random(4000) < 0.75, y, rng.integers(0, 32, 4000))
    cm = confusion_matrix(y, p, labels=range(32))
    fig = plot_confusion_matrix(cm, classes)
    px = render(fig, tmp_path, 'cm32')
    assert_not_blank(px)
    ax = fig.axes[0]
    assert len(fig.axes) == 2 and len(ax.images) == 1
    xt, yt = ax.get_xticklabels(), ax.get_yticklabels()
    assert [t.get_text() for t in xt] == classes and [t.get_text() for t in yt] == classes
    assert len(ax.texts) == 32 * 32 and ax.texts[0].get_text() == str(cm[0, 0])
    # legible: tick labels at least 6pt, none overlapping its neighbour, none cut off by the figure edge
    assert min(t.get_fontsize() for t in xt + yt) >= 6
    assert_no_overlap(extents(yt, fig), 'y tick labels')
    # x labels are rotated, so their boxes overlap; what matters is the gap across neighbouring baselines
    cell_w = ax.get_window_extent(fig.canvas.get_renderer()).width / 32
    for t in xt:
        assert t.get_rotation() > 0
        gap = cell_w * np.sin(np.radians(t.get_rotation()))
        assert gap >= t.get_fontsize() * fig.dpi / 72, f'x tick labels {gap:.1f}px apart at {t.get_fontsize()}pt'
    assert_inside(extents(xt + yt, fig), fig, 'tick labels')
    # each count fits inside its cell
    assert max(b.width for b in extents(ax.texts, fig)) < cell_w
    assert min(t.get_fontsize() for t in ax.texts) >= 5


class FakeLearner:
    "What `from_learner` needs from a learner: `data` and `get_preds(ds_type, with_loss)`."
    def __init__(self, data, probs, y): self.data, self.probs, self.y, self.calls = data, probs, y, []
    def get_preds(self, ds_type=None, with_loss=False):
        self.calls.append((ds_type, with_loss))
        p, y = torch.tensor(self.probs, dtype=torch.float32), torch.tensor(self.y)
        return (p, y, torch.nn.functional.nll_loss(p.log(), y, reduction='none')) if with_loss else (p, y)


@pytest.fixture
def interp():
    rng = np.random.default_rng(3)
    classes = ['cats', 'dogs', 'foxes']
    y = rng.integers(0, 3, 40)
    probs = rng.dirichlet(np.ones(3), 40)
    ds = SynthDataset(y, classes)
    data = SimpleNamespace(classes=classes, c=3, valid_ds=ds, val_ds=ds)
    learn = FakeLearner(data, probs, y)
    res = ClassificationInterpretation.from_learner(learn)
    assert learn.calls and learn.calls[0][1] is True
    return res


def test_top_losses_grid(interp, tmp_path):
    fig = interp.plot_top_losses(9, figsize=(8, 8))
    assert isinstance(fig, Figure)
    assert_not_blank(render(fig, tmp_path, 'top_losses'))
    assert len(fig.axes) == 9 and all(len(a.images) == 1 for a in fig.axes)
    losses, idxs = interp.top_losses(9)
    classes = interp.data.classes
    for ax, loss, i in zip(fig.axes, losses.tolist(), idxs.tolist()):
        fields = [f.strip() for f in ax.get_title().split('/')]
        assert len(fields) == 4, ax.get_title()
        pred, actual, l, p = fields
        assert pred == classes[interp.pred_class[i]] and actual == classes[interp.y_true[i]]
        assert float(l) == pytest.approx(loss, abs=0.006)
        assert float(p) == pytest.approx(interp.preds[i, interp.y_true[i]].item(), abs=0.006)
        # the picture is the dataset's item, denormalised
        ds = interp.data.valid_ds
        np.testing.assert_allclose(ax.images[0].get_array(), ds.denorm(ds[i][0]), atol=1e-5)
    assert losses.tolist() == sorted(losses.tolist(), reverse=True) and losses[0] == interp.losses.max()
    # titles stay within their own column
    bbs = extents([a.title for a in fig.axes], fig)
    for r in range(3): assert_no_overlap(bbs[3 * r:3 * r + 3], 'titles')
    # the grid is square: 3 distinct rows and columns
    pos = [a.get_position() for a in fig.axes]
    assert len({round(p.x0, 3) for p in pos}) == 3 and len({round(p.y0, 3) for p in pos}) == 3


def test_interp_confusion_matrix_sliced(interp, tmp_path):
    cm = interp.confusion_matrix()
    assert cm.dtype == np.int64 and cm.shape == (3, 3) and cm.sum() == 40
    np.testing.assert_array_equal(cm, confusion_matrix(interp.y_true, interp.preds.argmax(1), labels=range(3)))
    for s in (1, 7, 40, 1000): np.testing.assert_array_equal(interp.confusion_matrix(slice_size=s), cm)
    fig = interp.plot_confusion_matrix(slice_size=7)
    assert_not_blank(render(fig, tmp_path, 'interp_cm'))
    assert [t.get_text() for t in fig.axes[0].texts] == [str(v) for v in cm.flat]
    mc = interp.most_confused()
    off = cm - np.diag(np.diag(cm))
    assert sum(n for *_, n in mc) == off.sum() and mc[0][2] == off.max()
    assert mc == interp.most_confused(slice_size=3)


def test_plots_rows(tmp_path):
    ds = SynthDataset(np.arange(6) % 2, ['a', 'b'])
    ims = ds.denorm(torch.stack([ds[i][0] for i in range(6)]))
    assert ims.shape == (6, 48, 48, 3)
    fig = plots(ims, rows=2, titles=[0.1, 0.25, 0.5, 0.75, 0.9, 0.99], maintitle='Augmented')
    assert isinstance(fig, Figure)
    assert_not_blank(render(fig, tmp_path, 'plots_rows2'))
    assert len(fig.axes) == 6 and all(len(a.images) == 1 for a in fig.axes)
    pos = [a.get_position() for a in fig.axes]
    assert len({round(p.y0, 3) for p in pos}) == 2 and len({round(p.x0, 3) for p in pos}) == 3
    assert [a.get_title() for a in fig.axes][:2] == ['0.1000', '0.2500']
    assert fig._suptitle.get_text() == 'Augmented'
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), ims[0], atol=1e-6)


def test_no_figures_pile_up():
    "In a loop under a non-interactive backend, figures are released from pyplot: no leak, no warning."
    plt.close('all')
    ims = np.random.default_rng(0).random((2, 8, 8, 3))
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # matplotlib warns past 20 open figures
        for _ in range(25):
            plots(ims)
            plot_confusion_matrix(np.eye(2, dtype=int), ['a', 'b'])
    assert plt.get_fignums() == []


def test_bad_input_errors(interp):
    with pytest.raises(ValueError, match='3 names'): plot_confusion_matrix(np.eye(2), ['a', 'b', 'c'])
    with pytest.raises(ValueError, match='titles'): plots(np.zeros((2, 8, 8, 3)), titles=['x'])
    with pytest.raises(ValueError, match='empty'): plots(np.zeros((0, 8, 8, 3)))
    with pytest.raises(ValueError, match='`k`'): interp.plot_top_losses(0)
    with pytest.raises(ValueError, match='slice_size'): interp.confusion_matrix(slice_size=-1)


def test_top_losses_with_image_dataset(tmp_path):
    "The grid on catdog's own `ImageDataset` (generated JPEGs): its `denorm` gives back the pictures."
    from catdog.data import DatasetType, ImageDataset
    from catdog.transforms import imagenet_stats, tfms_from_stats
    rng = np.random.default_rng(5)
    fnames, y = [], []
    for i in range(8):
        c = i % 2
        im = Image.new('RGB', (80 + 8 * i, 64), tuple(int(v) for v in rng.integers(0, 256, 3)))
        im.paste((250, 120, 20) if c else (20, 60, 230), (10, 10, 50, 50))
        fnames.append(tmp_path/f'{i}.jpg'); im.save(fnames[-1]); y.append(c)
    _, val_tfms = tfms_from_stats(imagenet_stats, 48)
    ds = ImageDataset(fnames, np.array(y), ['cats', 'dogs'], val_tfms, norm=val_tfms.norm)
    data = SimpleNamespace(classes=ds.classes, c=2, valid_ds=ds)
    probs = rng.dirichlet(np.ones(2), 8)
    learn = FakeLearner(data, probs, np.array(y))
    interp = ClassificationInterpretation.from_learner(learn)
    assert learn.calls[0][0] == DatasetType.Valid
    fig = interp.plot_top_losses(4, figsize=(6, 6))
    assert_not_blank(render(fig, tmp_path, 'top_losses_imagedataset'))
    assert len(fig.axes) == 4
    for ax, i in zip(fig.axes, interp.top_losses(4)[1].tolist()):
        shown = ax.images[0].get_array()
        assert shown.shape == (48, 48, 3) and 0 <= shown.min() and shown.max() <= 1
        raw = ds.get_raw(i)[0].permute(1, 2, 0).numpy() / 255  # the un-normalised pixels
        np.testing.assert_allclose(shown, raw, atol=2e-3)


def test_show_batch_augmentation_grid(sample_path, tmp_path):
    "The augmentation grid on real photos: `show_batch` of the training set, as the lesson's transforms make it."
    from catdog.data import ImageClassifierData
    from catdog.models import efficientnet_lite0, tfms_from_model
    from catdog.transforms import transforms_side_on
    tfms = tfms_from_model(efficientnet_lite0, 128, aug_tfms=transforms_side_on, max_zoom=1.1)
    data = ImageClassifierData.from_paths(sample_path, tfms=tfms, bs=8, num_workers=0)
    torch.manual_seed(0)
    fig = data.show_batch(rows=3, figsize=(6, 6))
    assert_not_blank(render(fig, tmp_path, 'show_batch_train'))
    assert len(fig.axes) == 9 and {a.get_title() for a in fig.axes} <= {'cats', 'dogs'}
    shown = [a.images[0].get_array() for a in fig.axes]
    assert all(s.shape == (128, 128, 3) and 0 <= s.min() and s.max() <= 1 and s.std() > 0.05 for s in shown)
    torch.manual_seed(0)
    again = [a.images[0].get_array() for a in data.show_batch(rows=3).axes]
    assert all(np.array_equal(a, b) for a, b in zip(shown, again))  # the same seed draws the same photos and augmentations
    val = data.show_batch(rows=2, ds_type='valid')  # in order, no augmentation: the validation pictures themselves
    np.testing.assert_allclose(val.axes[1].images[0].get_array(), data.val_ds.denorm(data.val_ds[1][0]), atol=1e-6)
    assert val.axes[1].get_title() == data.classes[data.val_y[1]]


def test_gradcam_heatmaps_on_real_photos(sample_path, tmp_path):
    """`plot_top_losses(heatmap=True)` on a model trained on real photos. Grad-CAM must point at what the model uses:
    greying the quarter of each photo it marks hottest must cost the actual class far more log-odds than greying the coldest quarter."""
    import shutil
    import torch.nn.functional as F
    from catdog.all import (ImageDataBunch, ImageClassifierData, ConvLearner, create_cnn, get_transforms, models,
                            accuracy, gradcam, tfms_from_model)
    from catdog.vision_learner import _predict_batch
    for split, n in (('train', 60), ('valid', 24)):
        for c in ('cats', 'dogs'):
            (tmp_path/split/c).mkdir(parents=True)
            for f in sorted((sample_path/split/c).iterdir())[:n]: shutil.copy(f, tmp_path/split/c/f.name)
    torch.manual_seed(0)
    data = ImageDataBunch.from_folder(tmp_path, ds_tfms=get_transforms(), size=224, bs=16, num_workers=0)
    learn = create_cnn(data, models.efficientnet_lite0, metrics=accuracy, quiet=True)
    learn.fit_one_cycle(2, 1e-2)
    interp = ClassificationInterpretation.from_learner(learn)
    torch.manual_seed(1); tta = ClassificationInterpretation.from_learner(learn, tta=True)  # fastai v1's interpretation of TTA
    torch.manual_seed(1); p, y, l = learn.TTA(with_loss=True)
    assert torch.equal(tta.preds, p) and torch.equal(tta.losses, l) and torch.equal(tta.y_true, interp.y_true)
    assert not torch.allclose(tta.preds, interp.preds)  # the augmented passes are blended in
    torch.manual_seed(1); assert torch.equal(learn.interpret(tta=True).preds, p)
    fig = interp.plot_top_losses(9, heatmap=True, figsize=(8, 8))
    assert_not_blank(render(fig, tmp_path, 'top_losses_heatmap'))
    assert len(fig.axes) == 9
    for ax in fig.axes:
        photo, over = ax.images
        assert over.get_array().shape == (7, 7) and over.get_extent() == photo.get_extent()
    weights = {k: v.clone() for k, v in learn.model.state_dict().items()}
    grads = [None if p.grad is None else p.grad.clone() for p in learn.model.parameters()]
    ds, drops = data.valid_ds, []
    def log_odds(x, y):
        p = _predict_batch(learn, learn.data.one_item(x))[0]
        return float(p[y].log() - p[1 - y].log())
    for i in range(len(ds)):
        x, y = ds[i]
        cam = F.interpolate(gradcam(learn, x, y)[None, None], size=x.shape[-2:], mode='bilinear')[0, 0]
        q = cam.flatten().sort().values
        hot, cold = cam >= q[-len(q) // 4], cam <= q[len(q) // 4]
        base = log_odds(x, y)
        drops.append((base - log_odds(x * ~hot, y), base - log_odds(x * ~cold, y)))  # 0 is the mean colour
    hot_drop, cold_drop = np.array(drops).T
    assert hot_drop.mean() > cold_drop.mean() + 3, (hot_drop.mean(), cold_drop.mean())  # measured: 14.0 against -1.7
    assert (hot_drop > cold_drop).mean() >= 0.75, drops                                  # measured: 0.94
    assert all(torch.equal(v, learn.model.state_dict()[k]) for k, v in weights.items())
    assert all((a is None and p.grad is None) or torch.equal(a, p.grad) for a, p in zip(grads, learn.model.parameters()))
    # fastai 0.7's learner, precomputing: the same map from the full model, while the head trains on activations
    data7 = ImageClassifierData.from_paths(tmp_path, tfms=tfms_from_model(models.efficientnet_lite0, 224), bs=16, num_workers=0)
    learn7 = ConvLearner.pretrained(models.efficientnet_lite0, data7, precompute=True, quiet=True)
    x, y = data7.val_ds[0]
    cam7 = gradcam(learn7, x, y)
    learn7.precompute = False
    assert cam7.shape == (7, 7) and torch.allclose(cam7, gradcam(learn7, x, y))
    learn7.precompute = True  # (after the maps: predicting leaves the body channels_last, which moves them by float rounding)
    tta7 = ClassificationInterpretation.from_learner(learn7, tta=True)  # v1's TTA on the full model, while the head uses activations
    assert learn7.precompute and tta7.preds.shape == (48, 2) and torch.allclose(tta7.preds.sum(1), torch.ones(48))
    assert torch.allclose(tta7.losses, -tta7.preds[torch.arange(48), tta7.y_true].log(), atol=1e-5)
