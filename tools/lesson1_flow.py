"""Lesson 1 (seed 000) end to end, call for call, with `efficientnet_lite0` in place of `resnet34`.

Usage: python tools/lesson1_flow.py PATH [--json OUT]. PATH must be a writable copy of the data (models
and caches are saved under it). Prints each stage's accuracy and seconds; `make bench` times the whole
process on a fresh copy."""
import argparse, json, time
t_start = time.time()
import numpy as np
from sklearn.metrics import confusion_matrix
from catdog.all import *

p = argparse.ArgumentParser(description=__doc__)
p.add_argument('path'); p.add_argument('--json', default=None)
args = p.parse_args()
PATH, sz, arch = args.path, 224, efficientnet_lite0
stages = {}
def stage(name, t0, **kw):
    stages[name] = dict(seconds=round(time.time() - t0, 1), **kw)
    print(f'== {name}: ' + ', '.join(f'{k}={v}' for k, v in stages[name].items()), flush=True)

# Our first model: quick start
t = time.time()
data = ImageClassifierData.from_paths(PATH, tfms=tfms_from_model(arch, sz))
learn = ConvLearner.pretrained(arch, data, precompute=False)
learn.fit(0.01, 1)
stage('quick start', t, accuracy=round(learn.recorder.values[-1][-1], 4))

# Analyzing results
t = time.time()
log_preds = learn.predict()
preds = np.argmax(log_preds, axis=1)
probs = np.exp(log_preds[:, 1])
stage('predict', t, accuracy=round(float((preds == data.val_y).mean()), 4))

# Choosing a learning rate
t = time.time()
learn = ConvLearner.pretrained(arch, data, precompute=True)
lrf = learn.lr_find()
stage('lr_find', t, suggestion=float(lrf.lr_min))

# Data augmentation, precompute, SGDR on the last layer
t = time.time()
tfms = tfms_from_model(arch, sz, aug_tfms=transforms_side_on, max_zoom=1.1)
data = ImageClassifierData.from_paths(PATH, tfms=tfms)
learn = ConvLearner.pretrained(arch, data, precompute=True)
learn.fit(1e-2, 1)
stage('precomputed head epoch', t, accuracy=round(learn.recorder.values[-1][-1], 4))
t = time.time()
learn.precompute = False
learn.fit(1e-2, 3, cycle_len=1)
stage('3 augmented head epochs (SGDR)', t, accuracy=round(learn.recorder.values[-1][-1], 4))
learn.save('224_lastlayer')
learn.load('224_lastlayer')

# Fine-tuning with differential learning rates
t = time.time()
learn.unfreeze()
lr = np.array([1e-4, 1e-3, 1e-2])
learn.fit(lr, 3, cycle_len=1, cycle_mult=2)
stage('7 unfrozen epochs (cycle_mult=2)', t, accuracy=round(learn.recorder.values[-1][-1], 4))
learn.save('224_all')
learn.load('224_all')

# TTA and the confusion matrix
t = time.time()
log_preds, y = learn.TTA()
acc = float(accuracy(log_preds, y))
preds = np.argmax(log_preds, axis=1)
cm = confusion_matrix(data.val_y, preds)
stage('TTA', t, accuracy=round(acc, 4), confusion=cm.tolist())

res = dict(total_seconds=round(time.time() - t_start, 1), final_tta_accuracy=round(acc, 4), stages=stages)
print(json.dumps(res))
if args.json:
    with open(args.json, 'w') as f: json.dump(res, f, indent=1)
