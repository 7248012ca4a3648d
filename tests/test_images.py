"Bad-input corpus for `catdog.images` and the transforms: every mode, format and oddity loads as upright RGB."
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from catdog.images import IMG_EXTS, ImageLoadError, get_image_files, open_image, load_image, to_rgb, verify_images, find_bad_images
from catdog.transforms import ImageTransforms, tfms_from_stats, imagenet_stats, transforms_side_on, resize_short

RED, BLUE = (255, 0, 0), (0, 0, 255)

def _save(im, fn, **kw):
    fn.parent.mkdir(parents=True, exist_ok=True)
    im.save(fn, **kw)
    return fn

def _mode_image(mode):
    "A 16x12 image in `mode` whose left half is bright and right half dark (greyscale modes) or red/blue."
    w, h = 16, 12
    if mode in ('RGB', 'RGBA', 'CMYK', 'P', 'PT'):
        a = np.zeros((h, w, 3), np.uint8); a[:, :8] = RED; a[:, 8:] = BLUE
        im = Image.fromarray(a)
        if mode == 'RGBA': im = im.convert('RGBA')
        if mode == 'CMYK': im = im.convert('CMYK')
        if mode in ('P', 'PT'): im = im.quantize(4)
        return im
    a = np.zeros((h, w), np.float64); a[:, :8] = 1.
    if mode == 'L': return Image.fromarray((a*255).astype(np.uint8), 'L')
    if mode == 'LA': return Image.fromarray((a*255).astype(np.uint8), 'L').convert('LA')
    if mode == '1': return Image.fromarray((a*255).astype(np.uint8), 'L').convert('1')
    if mode == 'I;16': return Image.fromarray((a*65535).astype(np.uint16))
    if mode == 'I': return Image.fromarray((a*65535).astype(np.int32), 'I')
    if mode == 'F': return Image.fromarray(a.astype(np.float32), 'F')
    raise ValueError(mode)

# (mode, format extension): every pairing the format can store
CASES = [(m, e) for m, e in [
    ('RGB', '.jpg'), ('L', '.jpg'), ('CMYK', '.jpg'), ('RGB', '.JPEG'), ('L', '.JPG'),
    ('RGB', '.png'), ('L', '.png'), ('LA', '.png'), ('P', '.png'), ('RGBA', '.png'), ('I;16', '.png'), ('1', '.png'),
    ('P', '.gif'), ('L', '.gif'), ('RGB', '.GIF'),
    ('RGB', '.webp'), ('RGBA', '.webp'), ('RGB', '.WEBP'),
    ('RGB', '.bmp'), ('L', '.bmp'), ('P', '.bmp'), ('1', '.BMP'),
    ('RGB', '.tif'), ('CMYK', '.tiff'), ('I;16', '.tif'), ('F', '.tif'), ('I', '.tif'), ('RGBA', '.TIFF'), ('LA', '.tif')]]

@pytest.mark.parametrize('mode,ext', CASES, ids=[f'{m}{e}' for m, e in CASES])
def test_modes_and_formats_load_as_rgb(tmp_path, mode, ext):
    fn = _save(_mode_image(mode), tmp_path/f'img{ext}')
    im = open_image(fn)
    assert im.mode == 'RGB' and im.size == (16, 12)
    left, right = np.asarray(im)[6, 2].astype(int), np.asarray(im)[6, 13].astype(int)
    if mode in ('RGB', 'RGBA', 'CMYK', 'P'):
        assert np.abs(left - RED).max() < 40 and np.abs(right - BLUE).max() < 40, (left, right)
    else:  # bright left half, dark right half, grey (R == G == B)
        assert left.min() > 215 and right.max() < 40 and np.ptp(left) < 10, (left, right)

def test_transparency_composited_on_white(tmp_path):
    im = Image.new('RGBA', (4, 4), (0, 0, 255, 255)); im.putpixel((0, 0), (0, 0, 0, 0)); im.putpixel((1, 0), (255, 0, 0, 128))
    got = open_image(_save(im, tmp_path/'a.png'))
    assert got.getpixel((0, 0)) == (255, 255, 255) and got.getpixel((3, 3)) == (0, 0, 255)
    r, g, b = got.getpixel((1, 0)); assert r == 255 and 120 < g < 135  # half red over white
    p = Image.new('P', (4, 4), 1); p.putpalette([0, 0, 0, 0, 255, 0] + [0]*762); p.putpixel((0, 0), 0); p.info['transparency'] = 0
    got = open_image(_save(p, tmp_path/'p.png', transparency=0))
    assert got.getpixel((0, 0)) == (255, 255, 255) and got.getpixel((2, 2)) == (0, 255, 0)
    got = open_image(_save(p, tmp_path/'p.gif', transparency=0))
    assert got.getpixel((0, 0)) == (255, 255, 255) and got.getpixel((2, 2)) == (0, 255, 0)

@pytest.mark.parametrize('orientation,size,corner', [(6, (20, 40), (19, 0)), (8, (20, 40), (0, 39)), (3, (40, 20), (39, 19)), (1, (40, 20), (0, 0))])
@pytest.mark.parametrize('ext', ['.jpg', '.png', '.webp', '.tif'])
def test_exif_orientation_applied(tmp_path, orientation, size, corner, ext):
    "A 40x20 picture with a red block at its stored top-left: the block ends where the orientation says."
    a = np.zeros((20, 40, 3), np.uint8); a[:4, :4] = RED
    exif = Image.Exif(); exif[0x0112] = orientation
    fn = _save(Image.fromarray(a), tmp_path/f'o{ext}', exif=exif, **({'quality': 95} if ext == '.jpg' else {}))
    im = open_image(fn)
    assert im.size == size
    r, g, b = im.getpixel(corner)
    assert r > 200 and g < 60 and b < 60, im.getpixel(corner)

def test_tiny_and_huge_images_batch(tmp_path):
    fns = [_save(Image.new('RGB', (1, 1), RED), tmp_path/'one.png'),
           _save(Image.new('RGB', (4000, 3000), BLUE), tmp_path/'big.jpg', quality=80),
           _save(Image.new('L', (3000, 4000), 128), tmp_path/'BIG_TALL.JPEG'),
           _save(Image.new('RGB', (5, 900), RED), tmp_path/'sliver.png')]
    big = open_image(fns[1], 224)
    assert min(big.size) >= 224 and big.size == (500, 375)  # draft at 1/8
    assert open_image(fns[1]).size == (4000, 3000)
    for tfms in tfms_from_stats(imagenet_stats, 224, aug_tfms=transforms_side_on, max_zoom=1.1):
        xs = torch.stack([tfms.load(f) for f in fns])
        assert xs.shape == (4, 3, 224, 224) and xs.dtype == torch.uint8
        if tfms.train:  # lighting shifts and rotation corners: the middle of each picture keeps its colour
            assert xs[0, 0].float().median() > 200 and xs[1, 2].float().median() > 200 and abs(xs[2].float().median() - 128) < 30
        else:
            assert xs[0, 0].float().mean() > 250 and xs[1, 2].float().mean() > 240 and abs(xs[2].float().mean() - 128) < 3

@pytest.mark.parametrize('sz', [1, 3, 17, 64, 101, 224, 225, 299])
def test_any_size_exact(tmp_path, sz):
    im = Image.new('RGB', (333, 251), RED)
    for t in tfms_from_stats(imagenet_stats, sz, aug_tfms=transforms_side_on, max_zoom=1.3):
        assert t(im).shape == (3, sz, sz)

def test_draft_keeps_short_side(sample_path):
    for fn in get_image_files(sample_path/'valid'/'dogs')[:20]:
        full = Image.open(fn).size
        for sz in (64, 128, 224):
            got = open_image(fn, sz).size
            assert min(got) >= sz or got == full
            if min(full) >= 2*sz: assert got[0] < full[0]  # really decoded smaller
            ratio = full[0]/full[1]
            assert abs(got[0]/got[1] - ratio) < 0.05

def test_get_image_files_ignores_junk(tmp_path):
    _save(Image.new('RGB', (3, 3)), tmp_path/'cats'/'a.JPG')
    _save(Image.new('RGB', (3, 3)), tmp_path/'cats'/'deep'/'b.tiff')
    for junk in ['.DS_Store', 'cats/.DS_Store', 'cats/Thumbs.db', 'cats/readme.txt', 'cats/._a.JPG', '.git/x.jpg', 'cats/data.csv']:
        (tmp_path/junk).parent.mkdir(parents=True, exist_ok=True); (tmp_path/junk).write_bytes(b'junk')
    (tmp_path/'cats'/'empty').mkdir()
    assert [p.relative_to(tmp_path).as_posix() for p in get_image_files(tmp_path)] == ['cats/a.JPG', 'cats/deep/b.tiff']
    assert {'.jpg', '.jpeg', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff'} == set(IMG_EXTS)

def _broken_corpus(d):
    good = _save(Image.new('RGB', (300, 200), RED), d/'good.jpg')
    (d/'zero.jpg').write_bytes(b'')
    _save(Image.effect_noise((400, 300), 60).convert('RGB'), d/'full.jpg')
    (d/'truncated.jpg').write_bytes((d/'full.jpg').read_bytes()[:3000])
    (d/'full.jpg').unlink()
    (d/'text.png').write_text('this is not a png')
    (d/'html.JPEG').write_text('<html>404 not found</html>')
    _save(Image.effect_noise((300, 300), 60).convert('RGB'), d/'full.png')
    (d/'truncated.png').write_bytes((d/'full.png').read_bytes()[:5000]); (d/'full.png').unlink()
    return good, sorted(d/f for f in ['zero.jpg', 'truncated.jpg', 'text.png', 'html.JPEG', 'truncated.png'])

def test_broken_files_error_names_file(tmp_path):
    good, bad = _broken_corpus(tmp_path)
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    for f in bad:
        with pytest.raises(ImageLoadError) as e: open_image(f, 64)
        assert str(f) in str(e.value) and 'verify_images' in str(e.value)
        assert isinstance(e.value, OSError)
    with pytest.raises(FileNotFoundError): open_image(tmp_path/'missing.jpg')

def test_verify_images_finds_and_deletes_only_when_asked(tmp_path):
    good, bad = _broken_corpus(tmp_path)
    assert sorted(verify_images(tmp_path, max_workers=2)) == bad
    assert all(f.exists() for f in bad)
    assert sorted(find_bad_images(bad + [good], sz=32)) == bad
    assert sorted(verify_images(tmp_path, delete=True)) == bad
    assert not any(f.exists() for f in bad) and good.exists()
    assert verify_images(tmp_path) == []

def test_verify_images_whole_sample_clean(sample_path):
    fns = get_image_files(sample_path)
    assert len(fns) >= 1500
    assert verify_images(sample_path) == []

@pytest.mark.parametrize('mode,ext', CASES, ids=[f'{m}{e}' for m, e in CASES])
def test_load_image_same_pixels_as_open_image(tmp_path, mode, ext):
    fn = _save(_mode_image(mode), tmp_path/f'img{ext}')
    x = load_image(fn)
    assert x.dtype == torch.uint8 and x.shape == (3, 12, 16) and x.stride()[0] == 1  # CHW in HWC memory
    assert np.array_equal(x.permute(1, 2, 0).numpy(), np.asarray(open_image(fn)))

def test_load_image_errors_like_open_image(tmp_path):
    good, bad = _broken_corpus(tmp_path)
    for f in bad:
        with pytest.raises(ImageLoadError) as e: load_image(f, 64)
        assert str(f) in str(e.value) and 'verify_images' in str(e.value)
    with pytest.raises(FileNotFoundError): load_image(tmp_path/'missing.jpg')

def test_load_image_whole_sample_same_pixels(sample_path):
    "load_image (OpenCV's JPEG decode) gives Pillow's pixels, bit for bit, on every photo of the sample (draft sizes too)."
    fns = get_image_files(sample_path)
    for f in fns:
        assert np.array_equal(load_image(f).permute(1, 2, 0).numpy(), np.asarray(open_image(f))), f
    for f in fns[::50]: assert np.array_equal(load_image(f, 100).permute(1, 2, 0).numpy(), np.asarray(open_image(f, 100))), f

def test_tensor_resize_close_to_pillow(sample_path):
    "The pipeline's resize (torchvision, antialiased bilinear on uint8) against Pillow's BILINEAR on real photos."
    diffs, changed, n = [], 0, 0
    for f in get_image_files(sample_path/'valid')[:200]:
        im = open_image(f)
        pil = np.asarray(resize_short(im, 224)).astype(int)
        tv = resize_short(torch.from_numpy(np.array(im)).permute(2, 0, 1), 224).permute(1, 2, 0).numpy().astype(int)
        assert pil.shape == tv.shape, f
        d = np.abs(pil - tv); diffs.append(d.max()); changed += (d > 0).sum(); n += d.size
    assert max(diffs) <= 2 and changed/n < 0.01, (max(diffs), changed/n)
