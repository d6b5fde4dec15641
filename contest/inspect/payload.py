"""The one-image view as JSON, for the page of `contest serve` and `contest inspect image --out`.

Pictures travel as {"shape": [h, w] or [h, w, 3] or [c, h, w], "data": base64 of uint8 bytes},
0 = the low end of the picture's range, 255 = its high end (saliency: 0..1 of its peak; feature
maps: each layer's own range; images: 0..1 pixels), so a page draws them on a canvas with no
library.
"""
import base64

import numpy as np

from contest.inspect.mosaic import display_image, seen_image, unit_range


def picture(a):
    """{"shape", "data"} of an array of 0..1 values as base64 uint8."""
    a = np.asarray(a, dtype=np.float32)
    q = np.round(np.clip(np.nan_to_num(a), 0, 1) * 255).astype(np.uint8)
    return {"shape": list(q.shape), "data": base64.b64encode(q.tobytes()).decode("ascii")}


def _rounded(values, digits=4):
    return [round(float(v), digits) for v in values]


def _members(analysis, spec):
    return [{"member": m, "predicted": int(p.argmax()), "label": spec.label(int(p.argmax())),
             "confidence": round(float(p.max()), 4), "proba": _rounded(p),
             "saliency": picture(analysis.saliency[m])}
            for m, p in enumerate(analysis.member_proba)]


def _layers(maps):
    return [{"name": name, "shape": list(shape), "channels": [int(c) for c in channels],
             "maps": picture(unit_range(tiles))} for name, shape, channels, tiles in maps]


def _neighbours(view, train, spec):
    if view.neighbours is None or train is None:
        return None
    images, labels = train
    return [{"index": int(i), "label": int(labels[i]), "name": spec.label(int(labels[i])),
             "distance": round(float(d), 4), "image": picture(display_image(images[i]))}
            for i, d in zip(*view.neighbours)]


def image_payload(view, image, spec, train=None, map_members=(0,)):
    """JSON-able dict of an ImageView (views.image_view) of `image`; `train`: (images, labels)
    the neighbours index into; `map_members`: the members whose maps the view holds, in order."""
    a = view.analysis
    out = {"classes": list(spec.class_names), "predicted": int(a.proba.argmax()),
           "label": spec.label(int(a.proba.argmax())), "proba": _rounded(a.proba),
           "image": picture(display_image(image)), "seen": picture(seen_image(a.seen)),
           "members": _members(a, spec),
           "feature_maps": [{"member": int(m), "layers": _layers(maps)}
                            for m, maps in zip(map_members, view.maps)],
           "neighbours": _neighbours(view, train, spec)}
    if a.occlusion is not None:
        top = float(np.abs(a.occlusion).max()) or 1.0
        out["occlusion"] = {"scale": round(top, 4),
                            "maps": [picture((o / top + 1) / 2) for o in a.occlusion]}
    return out
