"""`make demo`: train a dogs-vs-cats classifier on the sample photos with the embedded pretrained backbone.

The lesson's recipe: look at the data, find a learning rate, train the head on precomputed activations,
then with augmentation (SGDR, cycle_len=1), optionally fine-tune everything with differential learning
rates (--unfreeze-epochs), and finish with TTA. Prints accuracy and seconds; writes plots to --out."""
import argparse, os, shutil, tempfile, time
from pathlib import Path
t_start = time.time()
os.environ.setdefault('MPLBACKEND', 'Agg')
import numpy as np
from catdog.all import *

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__)
p.add_argument('--data', default=os.environ.get('CATDOG_SAMPLE', str(ROOT.parent/'shared'/'data'/'dogscats')),
               help='folder with train/ and valid/ class folders (copied to a temp dir: it is never written)')
p.add_argument('--out', default='demo_out', help='where the plots go')
p.add_argument('--sz', type=int, default=224)
p.add_argument('--unfreeze-epochs', type=int, default=0, help='epochs of fine-tuning the whole network (lesson: 7)')
args = p.parse_args()
out = Path(args.out).resolve(); out.mkdir(parents=True, exist_ok=True)  # resolved: learn.export puts a relative name under the (temporary) data folder
arch, sz = efficientnet_lite0, args.sz

with tempfile.TemporaryDirectory() as tmp:
    PATH = Path(tmp)/'data'
    shutil.copytree(args.data, PATH, ignore=shutil.ignore_patterns('models', 'tmp'))
    tfms = tfms_from_model(arch, sz, aug_tfms=transforms_side_on, max_zoom=1.1)
    data = ImageClassifierData.from_paths(PATH, tfms=tfms)
    print(f'classes: {data.classes}')
    for split, ds in (('train', data.trn_ds), ('valid', data.val_ds)):
        print(f'  {split}: ' + ', '.join(f'{c} {int((ds.y == i).sum())}' for i, c in enumerate(data.classes)))
    x, _ = next(iter(data.aug_dl))
    plots(data.trn_ds.denorm(x)[:8], rows=2, titles=[data.classes[i] for i in data.val_y[:8]]).savefig(out/'augmented.png')

    learn = ConvLearner.pretrained(arch, data, precompute=True)
    lrf = learn.lr_find()
    learn.sched.plot().savefig(out/'lr_find.png')
    print(f'lr_find suggests {lrf.lr_min:.2g} (the lesson uses 1e-2)')
    learn.fit(1e-2, 1)
    learn.precompute = False
    learn.fit(1e-2, 2, cycle_len=1)
    if args.unfreeze_epochs:
        learn.unfreeze()
        n_cycle = max(1, int(np.log2(args.unfreeze_epochs + 1)))
        learn.fit(np.array([1e-4, 1e-3, 1e-2]), n_cycle, cycle_len=1, cycle_mult=2)
    learn.sched.plot_lr().savefig(out/'lr_schedule.png')
    log_preds, y = learn.TTA()
    acc = float(accuracy(log_preds, y))
    probs = np.exp(log_preds)
    interp = ClassificationInterpretation(data, probs, y, -np.log(probs[np.arange(len(y)), y]))
    interp.plot_confusion_matrix().savefig(out/'confusion_matrix.png')
    interp.plot_top_losses(9, figsize=(9, 9)).savefig(out/'top_losses.png')
    learn.export(out/'model.pth')

print(f'\nvalidation accuracy with TTA: {acc:.2%} on {len(y)} photos; {time.time() - t_start:.0f} s in all')
print(f'plots and the exported model are in {out.resolve()}/')
