"End-to-end data tests on the shared sample, bad layouts and bad files (made in temp dirs)."
import shutil, tarfile, warnings, zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from catdog.data import (DatasetType, DeviceLoader, ImageClassifierData, ImageDataBunch, ImageDataset, get_cv_idxs)
from catdog.external import untar_data, UnsafeArchiveError
from catdog.images import ImageLoadError, get_image_files
from catdog.transforms import (Normalize, get_transforms, imagenet_stats, tfms_from_stats, transforms_side_on)

SZ = 64
TFMS = tfms_from_stats(imagenet_stats, SZ, aug_tfms=transforms_side_on, max_zoom=1.1)

def small_sample(src, dst, n=6, splits=('train', 'valid'), classes=('cats', 'dogs')):
    "Copy the first `n` photos of each class of `src` into `dst` (the sample itself stays untouched)."
    for s in splits:
        for c in classes:
            (dst/s/c).mkdir(parents=True, exist_ok=True)
            for f in get_image_files(src/s/c)[:n]: shutil.copy(f, dst/s/c/f.name)
    return dst

def test_from_paths_on_sample(sample_path):
    data = ImageClassifierData.from_paths(sample_path, bs=16, tfms=TFMS, test_name='test', num_workers=2)
    assert data.classes == ['cats', 'dogs'] and data.c == 2
    assert (len(data.trn_ds), len(data.val_ds), len(data.test_ds)) == (1000, 500, 100)
    assert data.val_y.dtype == np.int64 and list(np.bincount(data.val_y)) == [250, 250]
    assert (data.test_ds.y == 0).all()
    x, y = next(iter(data.trn_dl))
    assert x.shape == (16, 3, SZ, SZ) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert -2.5 < x.mean().item() < 2.5 and x.std().item() > 0.3  # normalised, not 0..255 nor 0..1
    xi, yi = data.val_ds[260]
    assert xi.shape == (3, SZ, SZ) and yi == 1
    img = data.val_ds.denorm(np.stack([data.val_ds[i][0] for i in (0, 1)]))
    assert img.shape == (2, SZ, SZ, 3) and 0 <= img.min() and img.max() <= 1
    assert data.trn_ds.denorm(x)[1].shape == (SZ, SZ, 3)
    assert data.dl(DatasetType.Test) is data.test_dl and data.dl(DatasetType.Train) is data.trn_dl

def test_aug_dl_same_photo_same_index(sample_path):
    torch.manual_seed(0)
    data = ImageClassifierData.from_paths(sample_path, bs=16, tfms=TFMS, num_workers=0)
    assert data.aug_dl.dataset.fnames == data.val_ds.fnames and not data.aug_dl.shuffle
    xa, ya = next(iter(data.aug_dl)); xv, yv = next(iter(data.val_dl))
    assert ya.tolist() == yv.tolist() == data.val_y[:16].tolist()
    # an augmented photo looks (blurred, flip-symmetrised) most like its own centre crop
    sig = lambda x: torch.nn.functional.adaptive_avg_pool2d(x + x.flip(-1), 4).flatten(1)
    d = torch.cdist(sig(xa), sig(xv))
    assert (d.argmin(1) == torch.arange(16)).float().mean() >= 0.75
    assert not torch.equal(next(iter(data.aug_dl))[0], next(iter(data.aug_dl))[0])  # random each time

def test_train_shuffles_valid_does_not(sample_path, tmp_path):
    data = ImageClassifierData.from_paths(small_sample(sample_path, tmp_path, 8), bs=4, tfms=TFMS, num_workers=2)
    ys = [torch.cat([y for _, y in data.trn_dl]).tolist() for _ in range(3)]
    assert sorted(ys[0]) == sorted(data.trn_ds.y.tolist()) and len({tuple(y) for y in ys}) > 1
    assert torch.cat([y for _, y in data.val_dl]).tolist() == data.val_y.tolist()

def test_resize_cache(sample_path, tmp_path):
    src = small_sample(sample_path, tmp_path/'ds', 3)
    data = ImageClassifierData.from_paths(src, bs=4, tfms=TFMS, num_workers=0)
    small = data.resize(80)
    assert small.cache_path == src/'tmp'/'80'
    for f in small.trn_ds.fnames + small.val_ds.fnames:
        assert f.is_relative_to(src/'tmp'/'80') and min(Image.open(f).size) == 80
    mtimes = [f.stat().st_mtime_ns for f in small.trn_ds.fnames]
    assert [f.stat().st_mtime_ns for f in data.resize(80).trn_ds.fnames] == mtimes  # reused
    assert small.path == data.path and small.classes == data.classes and small.val_y.tolist() == data.val_y.tolist()
    assert next(iter(small.trn_dl))[0].shape == (4, 3, SZ, SZ)
    assert all(f.exists() for f in data.trn_ds.fnames)  # originals untouched

def test_image_data_bunch(sample_path, tmp_path):
    src = small_sample(sample_path, tmp_path, 4)
    data = ImageDataBunch.from_folder(src, num_workers=0, bs=4)
    assert data.sz == 224 and data.norm is None and not data.trn_tfms.train  # no ds_tfms: centre crop
    x, _ = next(iter(data.train_dl)); assert 0 <= x.min() and x.max() <= 1 and x.shape == (4, 3, 224, 224)
    data = ImageDataBunch.from_folder(src, ds_tfms=get_transforms(), size=32, bs=4, num_workers=0)
    assert data.normalize(imagenet_stats) is data and data.norm == Normalize(*imagenet_stats)
    assert data.trn_tfms.train and data.trn_tfms.max_zoom == 1.1 and data.train_ds[0][0].shape == (3, 32, 32)
    x, _ = next(iter(data.valid_dl)); assert x.min() < 0
    empty = ImageDataBunch.single_from_classes(src, data.classes, tfms=get_transforms(), size=32).normalize(imagenet_stats)
    assert empty.c == 2 and len(empty.train_ds) == 0 and len(list(empty.train_dl)) == 0
    assert torch.allclose(empty.one_item(data.valid_ds.fnames[0]), data.one_item(data.valid_ds[0][0]), atol=1e-5)

def _mixed_corpus(root):
    "Train/valid folders whose photos use every mode, format, case and size."
    kinds = [('a.jpg', 'RGB', (60, 40)), ('b.PNG', 'RGBA', (33, 71)), ('c.gif', 'P', (50, 50)), ('d.webp', 'RGB', (90, 30)),
             ('e.BMP', 'L', (40, 40)), ('f.tiff', 'CMYK', (64, 48)), ('g.tif', 'I;16', (45, 45)), ('h.png', 'LA', (20, 30)),
             ('i.JPEG', 'RGB', (1, 1)), ('j.jpg', 'RGB', (4000, 3000))]
    for s in ('train', 'valid'):
        for c in ('cats', 'dogs'):
            d = root/s/c; d.mkdir(parents=True)
            for name, mode, size in kinds:
                im = Image.new('RGB', size, (200, 30, 30) if c == 'cats' else (30, 30, 200))
                im = Image.fromarray(np.full(size[::-1], 30000, np.uint16)) if mode == 'I;16' else im.convert(mode)
                im.save(d/name)
            (d/'.DS_Store').write_bytes(b'\0\1'); (d/'Thumbs.db').write_bytes(b'x'); (d/'notes.txt').write_text('hi')
            (d/'empty_sub').mkdir()
    return root

def test_mixed_corpus_batches_with_workers(tmp_path):
    data = ImageClassifierData.from_paths(_mixed_corpus(tmp_path), bs=7, tfms=TFMS, num_workers=2)
    assert len(data.trn_ds) == 20
    xs = [x for x, _ in data.trn_dl]
    assert sum(len(x) for x in xs) == 20 and all(x.shape[1:] == (3, SZ, SZ) for x in xs)
    x, y = next(iter(data.val_dl))
    img = data.val_ds.denorm(x)
    assert img[0, 32, 32, 0] > 0.7 and img[0, 32, 32, 2] < 0.2  # the red cat stays red

def _with_broken(root):
    small = root
    (small/'train'/'cats'/'zero.jpg').write_bytes(b'')
    (small/'train'/'dogs'/'fake.png').write_text('not an image')
    good = get_image_files(small/'valid'/'dogs')[0]
    (small/'valid'/'dogs'/'trunc.jpg').write_bytes(good.read_bytes()[:2000])
    return sorted([small/'train'/'cats'/'zero.jpg', small/'train'/'dogs'/'fake.png', small/'valid'/'dogs'/'trunc.jpg'])

@pytest.mark.parametrize('num_workers', [0, 2])
def test_broken_files_fail_naming_file(sample_path, tmp_path, num_workers):
    src = small_sample(sample_path, tmp_path, 3); bad = _with_broken(src)
    data = ImageClassifierData.from_paths(src, bs=16, tfms=TFMS, num_workers=num_workers)
    with pytest.raises(ImageLoadError) as e: list(data.trn_dl)
    msg = str(e.value)
    assert ('zero.jpg' in msg or 'fake.png' in msg) and 'verify_images' in msg
    with pytest.raises(ImageLoadError, match='trunc.jpg'): list(data.val_dl)
    assert all(f.exists() for f in bad)  # nothing deleted

def test_skip_bad_one_warning(sample_path, tmp_path):
    src = small_sample(sample_path, tmp_path, 3); bad = _with_broken(src)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        data = ImageClassifierData.from_paths(src, bs=4, tfms=TFMS, num_workers=0, skip_bad=True)
    msgs = [str(x.message) for x in w if 'unreadable' in str(x.message)]
    assert len(msgs) == 1 and all(f.name in msgs[0] for f in bad)
    assert (len(data.trn_ds), len(data.val_ds)) == (6, 6)
    assert sum(len(y) for _, y in data.trn_dl) == 6 and all(f.exists() for f in bad)

def test_worker_start_failure_falls_back_once(monkeypatch, sample_path, tmp_path):
    import multiprocessing.process
    ds = ImageClassifierData.from_paths(small_sample(sample_path, tmp_path, 3), tfms=TFMS, num_workers=0).val_ds
    def no_fork(self, *a, **k): raise OSError(12, 'Cannot allocate memory (simulated fork failure)')
    monkeypatch.setattr(multiprocessing.process.BaseProcess, 'start', no_fork)
    monkeypatch.setattr(DeviceLoader, 'workers_failed', False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        n = [sum(len(y) for _, y in DeviceLoader(ds, bs=2, num_workers=2)) for _ in range(3)]
    assert n == [6, 6, 6]
    assert len([x for x in w if 'could not start' in str(x.message)]) == 1
    assert DeviceLoader.workers_failed

def test_small_shm_in_workers_falls_back(monkeypatch, sample_path, tmp_path):
    "A full /dev/shm shows up inside the workers, when they hand over tensors: simulated there only."
    import catdog.data
    ds = ImageClassifierData.from_paths(small_sample(sample_path, tmp_path, 3), tfms=TFMS, num_workers=0).val_ds
    orig = catdog.data._RawItems.__getitem__
    def shm_full(self, i):
        if torch.utils.data.get_worker_info() is not None:
            raise RuntimeError('unable to write to file </torch_123_456>: No space left on device (28)')
        return orig(self, i)
    monkeypatch.setattr(catdog.data._RawItems, '__getitem__', shm_full)
    monkeypatch.setattr(DeviceLoader, 'workers_failed', False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        ys = torch.cat([y for _, y in DeviceLoader(ds, bs=4, num_workers=2)])
    assert ys.tolist() == ds.y.tolist()
    assert len([x for x in w if 'could not start' in str(x.message)]) == 1

def test_data_errors_in_workers_are_not_swallowed(monkeypatch, sample_path, tmp_path):
    monkeypatch.setattr(DeviceLoader, 'workers_failed', False)
    src = small_sample(sample_path, tmp_path, 2); (src/'valid'/'cats'/'bad.jpg').write_bytes(b'')
    data = ImageClassifierData.from_paths(src, tfms=TFMS, num_workers=2)
    with pytest.raises(ImageLoadError, match='bad.jpg'): list(data.val_dl)
    assert not DeviceLoader.workers_failed

# ---- layout errors: each names the folder, class, file or row
def _layout(tmp_path, n=2):
    for s in ('train', 'valid'):
        for c in ('cats', 'dogs'):
            (tmp_path/s/c).mkdir(parents=True, exist_ok=True)
            for i in range(n): Image.new('RGB', (20, 20)).save(tmp_path/s/c/f'{i}.jpg')
    return tmp_path

def test_missing_valid_folder(tmp_path):
    src = _layout(tmp_path); shutil.rmtree(src/'valid')
    with pytest.raises(FileNotFoundError, match="'valid'.*train"): ImageClassifierData.from_paths(src, tfms=TFMS)
    with pytest.raises(FileNotFoundError, match='nowhere'): ImageClassifierData.from_paths(tmp_path/'nowhere', tfms=TFMS)

def test_no_images_at_all(tmp_path):
    (tmp_path/'train'/'cats').mkdir(parents=True); (tmp_path/'valid').mkdir()
    (tmp_path/'train'/'cats'/'notes.txt').write_text('x')
    with pytest.raises(ValueError, match='cats.*no images'): ImageClassifierData.from_paths(tmp_path, tfms=TFMS)
    shutil.rmtree(tmp_path/'train'/'cats')
    with pytest.raises(ValueError, match='no class sub-folders'): ImageDataBunch.from_folder(tmp_path)

def test_images_without_class_folders(tmp_path):
    (tmp_path/'train').mkdir(); (tmp_path/'valid').mkdir()
    Image.new('RGB', (9, 9)).save(tmp_path/'train'/'x.jpg')
    with pytest.raises(ValueError, match='1 images lie directly'): ImageClassifierData.from_paths(tmp_path, tfms=TFMS)

def test_empty_class_folder(tmp_path):
    src = _layout(tmp_path); (src/'train'/'birds').mkdir()
    with pytest.raises(ValueError, match=r'train/birds'): ImageClassifierData.from_paths(src, tfms=TFMS)

def test_bad_batch_size_and_workers(tmp_path):
    src = _layout(tmp_path)
    for bs in (0, -3):  # 0 divided by zero while the loaders were made
        with pytest.raises(ValueError, match=f'bs must be at least 1, got {bs}'): ImageClassifierData.from_paths(src, tfms=TFMS, bs=bs)
    with pytest.raises(ValueError, match='num_workers must be 0'): ImageClassifierData.from_paths(src, tfms=TFMS, num_workers=-1)

def test_one_class_only(tmp_path):
    src = _layout(tmp_path); shutil.rmtree(src/'train'/'dogs'); shutil.rmtree(src/'valid'/'dogs')
    with pytest.raises(ValueError, match="one class only \\('cats'\\)"): ImageClassifierData.from_paths(src, tfms=TFMS)
    with pytest.raises(ValueError, match="one class only"): ImageDataBunch.from_folder(src)
    (tmp_path/'csv').mkdir(); csv = _csv_layout(tmp_path/'csv', [f'{i},a' for i in range(6)])
    with pytest.raises(ValueError, match="one class only \\('a'\\)"):
        ImageClassifierData.from_csv(csv, 'imgs', csv/'labels.csv', tfms=TFMS, suffix='.jpg')

def test_valid_class_not_in_train(tmp_path):
    src = _layout(tmp_path); (src/'valid'/'horses').mkdir(); Image.new('RGB', (9, 9)).save(src/'valid'/'horses'/'h.jpg')
    with pytest.raises(ValueError, match="horses.*training classes"): ImageDataBunch.from_folder(src)

def test_valid_may_lack_a_class(tmp_path):
    src = _layout(tmp_path); shutil.rmtree(src/'valid'/'dogs')
    data = ImageClassifierData.from_paths(src, tfms=TFMS, num_workers=0)
    assert data.classes == ['cats', 'dogs'] and data.val_y.tolist() == [0, 0]

def _csv_layout(tmp_path, rows):
    (tmp_path/'imgs').mkdir()
    for i in range(6): Image.new('RGB', (20, 20), (40*i, 0, 0)).save(tmp_path/'imgs'/f'{i}.jpg')
    (tmp_path/'labels.csv').write_text('id,breed\n' + ''.join(r + '\n' for r in rows))
    return tmp_path

def test_from_csv(tmp_path):
    src = _csv_layout(tmp_path, [f'{i},{"b" if i % 3 else "a"}' for i in range(6)])
    data = ImageClassifierData.from_csv(src, 'imgs', src/'labels.csv', bs=2, tfms=TFMS, suffix='.jpg', val_idxs=[0, 4], num_workers=0)
    assert data.classes == ['a', 'b'] and [f.name for f in data.val_ds.fnames] == ['0.jpg', '4.jpg']
    assert data.val_y.tolist() == [0, 1] and len(data.trn_ds) == 4
    data = ImageClassifierData.from_csv(src, 'imgs', 'labels.csv', tfms=TFMS, suffix='.jpg', num_workers=0)
    assert sorted(f.name for f in data.val_ds.fnames) == sorted(f'{i}.jpg' for i in get_cv_idxs(6))

@pytest.mark.parametrize('rows,exc,pattern', [
    (['0,a', '1,b', '9,a'], FileNotFoundError, r'row 4: .*9\.jpg'),
    (['0,a', '1,', '2,b'], ValueError, r'row 3: blank label'),
    (['0,a', '1,b', '0,b'], ValueError, r"row 4: duplicate id '0' \(first on row 2\)"),
    (['0,a', ',b'], ValueError, r'row 3: blank id'),
    (['0,a', '1'], ValueError, r'row 3: expected'),
])
def test_csv_errors_name_the_row(tmp_path, rows, exc, pattern):
    src = _csv_layout(tmp_path, rows)
    with pytest.raises(exc, match=pattern): ImageClassifierData.from_csv(src, 'imgs', src/'labels.csv', tfms=TFMS, suffix='.jpg')

def test_get_cv_idxs():
    a = get_cv_idxs(1000)
    assert len(a) == 200 and len(set(a)) == 200 and (a == get_cv_idxs(1000)).all()
    assert len(set(get_cv_idxs(1000, cv_idx=1)) & set(a)) == 0 and len(get_cv_idxs(10, val_pct=0.5)) == 5

# ---- untar_data with local archives
def test_untar_zip_offline(tmp_path, monkeypatch):
    monkeypatch.setenv('CATDOG_DATA', str(tmp_path/'data'))
    (tmp_path/'data').mkdir()
    with zipfile.ZipFile(tmp_path/'data'/'dogscats.zip', 'w') as z:
        z.writestr('dogscats/train/cats/a.txt', 'meow'); z.writestr('dogscats/valid/dogs/b.txt', 'woof')
    p = untar_data('http://files.fast.ai/data/dogscats.zip')
    assert p == tmp_path/'data'/'dogscats' and (p/'train'/'cats'/'a.txt').read_text() == 'meow'
    assert untar_data('http://files.fast.ai/data/dogscats.zip') == p

def test_untar_refuses_escapes(tmp_path):
    import io
    def tgz(name, **kw):
        fn = tmp_path/f'{len(list(tmp_path.glob("*.tgz")))}.tgz'
        with tarfile.open(fn, 'w:gz') as t:
            info = tarfile.TarInfo(name)
            for k, v in kw.items(): setattr(info, k, v)
            t.addfile(info, io.BytesIO(b'x' * info.size))
        return fn
    for fn in [tgz('ok/../../evil.txt', size=1), tgz('/abs/evil.txt', size=1),
               tgz('ok/link', type=tarfile.SYMTYPE, linkname='/etc/passwd'),
               tgz('ok/hard', type=tarfile.LNKTYPE, linkname='../outside')]:
        with pytest.raises(UnsafeArchiveError, match='outside'): untar_data('http://x.invalid/ok.tgz', fname=fn, dest=tmp_path/'out')
        assert not (tmp_path/'out').exists()
    assert not (tmp_path.parent/'evil.txt').exists()


DEAD_LOADERS = '''
import gc, sys, time
import torch.utils.data._utils as u
u.MP_STATUS_CHECK_INTERVAL = 120  # torch's wait per worker when a stop message goes unanswered (5 s by default)
import catdog.data
if sys.argv[2] == 'unwatched': catdog.data._watch_workers = lambda it: None
from catdog.data import ImageClassifierData
class Cycle: pass
h = Cycle(); h.me = h  # as a learner and its callbacks are: freed by the garbage collector, not by reference counts
h.data = ImageClassifierData.from_paths(sys.argv[1], bs=16, num_workers=2)
for dl in (h.data.trn_dl, h.data.val_dl):
    for _ in dl: pass
procs = [p for dl in (h.data.trn_dl, h.data.val_dl) for p in dl._dl._iterator._workers]
del h, dl
gc.collect()
t0 = time.monotonic()  # terminated workers take a moment to exit; torch's own shutdown would take 2 x 120 s
while any(p.is_alive() for p in procs) and time.monotonic() - t0 < 10: time.sleep(0.05)
print(sum(p.is_alive() for p in procs), 'alive', flush=True)
'''

def test_dead_loaders_stop_their_workers_at_once(sample_path, tmp_path):
    "Loaders in a reference cycle, collected by the GC: their workers stop then, not after torch's unanswered stop message times out."
    import subprocess, sys
    data = small_sample(sample_path, tmp_path/'data', n=12)
    p = subprocess.run([sys.executable, '-c', DEAD_LOADERS, str(data), 'watched'], capture_output=True, text=True, timeout=100)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip().endswith('0 alive'), p.stdout


def test_kaggle_layout_from_name_re_trains(sample_path, tmp_path):
    "Kaggle's own Dogs vs Cats layout (one folder, 'cat.0.jpg', 'dog.0.jpg', ...): labels from the names, a seeded split, a model that learns."
    from catdog.learner import accuracy
    from catdog.vision_learner import create_cnn
    from catdog.models import efficientnet_lite0
    flat = tmp_path/'train'; flat.mkdir()
    for c in ('cats', 'dogs'):
        for i, f in enumerate(get_image_files(sample_path/'train'/c)[:100]): shutil.copy(f, flat/f'{c[:-1]}.{i}.jpg')
    fnames = get_image_files(flat)
    data = ImageDataBunch.from_name_re(tmp_path, fnames, r'/(cat|dog)\.\d+\.jpg$', valid_pct=0.25, ds_tfms=get_transforms(),
                                       size=224, bs=16, num_workers=0)
    assert data.classes == ['cat', 'dog'] and np.bincount(data.val_y).tolist() == [25, 25]
    assert all(f.name.startswith(data.classes[y]) for f, y in zip(data.valid_ds.fnames, data.val_y))
    assert ImageDataBunch.from_name_re(tmp_path, fnames, r'/(cat|dog)\.\d+\.jpg$', valid_pct=0.25).valid_ds.fnames == data.valid_ds.fnames
    torch.manual_seed(0)
    learn = create_cnn(data, efficientnet_lite0, metrics=[accuracy], quiet=True)
    learn.fit_one_cycle(2, 1e-2)
    loss, acc = learn.validate()
    assert acc >= 0.9, f'{acc:.3f} on the 50 held-out photos (wrong labels would give about 0.5)'

def test_from_df_labels_file_as_the_2019_lesson_reads_mnist(sample_path, tmp_path):
    "A `labels.csv` of paths under `path` and numeric labels, read with pandas: each real photo gets its own folder's class, split per class."
    import pandas as pd  # a dev dependency (settings.ini), so never skipped: the library itself never imports it
    rows = []
    for lbl, c in enumerate(('cats', 'dogs')):
        (tmp_path/'train'/c).mkdir(parents=True)
        for f in get_image_files(sample_path/'train'/c)[:20]:
            shutil.copy(f, tmp_path/'train'/c/f.name); rows.append(f'train/{c}/{f.name},{lbl}')
    (tmp_path/'labels.csv').write_text('name,label\n' + '\n'.join(rows[::-1]) + '\n')  # not in folder order
    df = pd.read_csv(tmp_path/'labels.csv')
    data = ImageDataBunch.from_df(tmp_path, df, ds_tfms=get_transforms(), size=SZ, bs=8, valid_pct=0.25, num_workers=0)
    assert data.classes == ['0', '1'] and np.bincount(data.val_y).tolist() == [5, 5] and np.bincount(data.train_ds.y).tolist() == [15, 15]
    for ds in (data.train_ds, data.valid_ds):
        assert all(f.parent.name == ('cats', 'dogs')[y] for f, y in zip(ds.fnames, ds.y))
    x, y = data.one_batch()
    assert x.shape == (8, 3, SZ, SZ) and x.std() > 0.1  # decoded photos, not blanks
    same = ImageDataBunch.from_csv(tmp_path, csv_labels='labels.csv', valid_pct=0.25, num_workers=0)
    assert same.valid_ds.fnames == data.valid_ds.fnames  # the same file read without pandas: the same split
