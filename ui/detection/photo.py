"""The Object detection page's "Detect in a photo" tab: a pretrained torchvision COCO detector on a
sample photo or an upload. The model is loaded once per process, run once per image (its raw boxes
kept in the session), and the score and NMS sliders re-filter those boxes without running it again.
When the weights cannot be had the tab says so in one sentence and points to the shapes detector;
it never runs a detector with random weights. The engine is :mod:`core.detection.pretrained`."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import streamlit as st

from core.artifacts import annotate_boxes
from core.detection.boxes import Detections
from core.detection.pretrained import (
    DEFAULT_DETECTOR,
    DETECTORS,
    WeightsUnavailable,
    detect,
    load_detector,
    refilter,
    weights_cached,
    weights_path,
)
from core.device import pick_device
from ui import upload
from ui.tables import table_with_csv

PAGE = "detection"
RAW = f"{PAGE}.photo_raw"  # {(detector, image digest): raw Detections}
FAILED = f"{PAGE}.photo_failed"  # {detector: the one-sentence reason its weights are missing}
KEEP_RAW = 4  # raw results kept per session (the last few photos)


@st.cache_resource(show_spinner=False, max_entries=3)
def _model(name: str, path: str):
    """The pretrained detector, loaded once per process (``path``, the weights file, keys the cache on
    TORCH_HOME so that a different cache folder loads its own file)."""
    return load_detector(name, device=pick_device())


def _digest(image) -> str:
    return hashlib.sha256(f"{image.size}{image.mode}".encode() + image.tobytes()).hexdigest()


def _run(name: str, image, key: tuple[str, str]) -> Detections | None:
    """Load (or download) the detector and run it once on ``image``; remember the raw boxes or the failure."""
    try:
        with st.spinner("Loading the detector and looking at the photo…"):
            raw = detect(_model(name, str(weights_path(name))), image)
    except WeightsUnavailable as exc:
        st.session_state.setdefault(FAILED, {})[name] = str(exc)
        return None
    except (RuntimeError, ValueError) as exc:  # e.g. out of memory on a huge photo
        st.error(f"The detector could not run on this photo: {exc}")
        return None
    st.session_state.get(FAILED, {}).pop(name, None)
    store = st.session_state.setdefault(RAW, {})
    store[key] = raw
    while len(store) > KEEP_RAW:
        store.pop(next(iter(store)))
    return raw


def render() -> None:
    """The "Detect in a photo" tab."""
    st.markdown(
        "A detector trained on the 80 everyday object classes of COCO (people, cars, cats, cups, …), run on a photo "
        "of yours. It runs **once** per photo and returns every candidate box it scored; the two sliders then "
        "re-filter those boxes on the spot, as the last step of a detector does: drop the boxes scoring at or below "
        "the score threshold, then per-class non-max suppression. **What you see:** the labelled boxes, their table, "
        "and the time the network took. **Try:** lower the score threshold to see the doubtful guesses, raise the "
        "NMS threshold to let duplicates through, and compare the two-stage Faster R-CNN with single-shot SSDlite."
    )
    name = st.selectbox("Pretrained detector", list(DETECTORS), index=list(DETECTORS).index(DEFAULT_DETECTOR),
                        key=f"{PAGE}.photo_detector")
    spec = DETECTORS[name]
    cached = weights_cached(name)
    st.caption(f"{spec.description[0].upper()}{spec.description[1:]}. COCO box mAP {spec.box_map:.1f} "
               f"(as published by torchvision); {spec.size_mb:.0f} MB of weights.")
    failed = st.session_state.get(FAILED, {}).get(name)
    if cached:
        st.caption(f"The weights are on this machine ({weights_path(name)}): no download needed.")
    elif not failed:
        st.info(f"The weights of this detector ({spec.size_mb:.0f} MB) are not on this machine yet: they are "
                "downloaded once into the torch cache when you ask for the first detection.", icon=":material/download:")
    photo = upload.image_input(f"{PAGE}.photo", label="Photo", default="Astronaut")
    if photo is None:
        return
    key = (name, _digest(photo.image))
    raw = st.session_state.get(RAW, {}).get(key)
    if raw is None and cached:
        raw = _run(name, photo.image, key)  # weights on disk: run at once, no download involved
    elif raw is None:
        label = "Try the download again" if failed else f"Download the weights ({spec.size_mb:.0f} MB) and detect"
        if st.button(label, icon=":material/download:", key=f"{PAGE}.photo_download"):
            raw = _run(name, photo.image, key)
            if raw is None and st.session_state.get(FAILED, {}).get(name):
                st.rerun()  # redraw with the reason and the "try again" button
    failed = st.session_state.get(FAILED, {}).get(name)
    if raw is None:
        if failed:
            st.warning(failed, icon=":material/cloud_off:")
            st.caption("Open the *Train a detector* tab: the shapes detector trains here in a minute, no download needed.")
        st.image(photo.image, caption=photo.name, width=min(640, photo.image.width))
        return
    _results(photo, raw, name)


def _results(photo, raw: Detections, name: str) -> None:
    c1, c2 = st.columns(2)
    score = c1.slider("Photo: score threshold", 0.0, 0.99, 0.5, 0.01, key=f"{PAGE}.photo_score",
                      help="Boxes scoring at or below this are dropped.")
    iou_t = c2.slider("Photo: NMS IoU threshold", 0.0, 1.0, 0.5, 0.05, key=f"{PAGE}.photo_iou",
                      help="Per class, a box overlapping a higher-scoring one by more than this is dropped.")
    shown = refilter(raw, score, iou_t)
    above = int((raw.scores > score).sum())
    m = st.columns(4)
    m[0].metric("Inference time", f"{raw.inference_ms:,.0f} ms", help="The network's own run on this photo, once.")
    m[1].metric("Candidate boxes", f"{len(raw):,}", help="Everything the network scored above "
                f"{raw.score_floor:g}, before any threshold.")
    m[2].metric("Above the score threshold", f"{above:,}")
    m[3].metric("Boxes after NMS", f"{len(shown):,}")
    image = annotate_boxes(photo.image, shown)
    left, right = st.columns([3, 2])
    left.image(image, caption=f"{photo.name}: {len(shown)} box{'es' if len(shown) != 1 else ''} ({name})", width="stretch")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    left.download_button("Download the annotated image (PNG)", buf.getvalue(), "detections.png", "image/png",
                         key=f"{PAGE}.photo_png", icon=":material/download:")
    with right:
        if len(shown):
            table_with_csv(pd.DataFrame(shown.rows()), "Download the boxes (CSV)", "detections.csv", f"{PAGE}.photo_csv",
                           caption="Boxes as (x1, y1) top-left and (x2, y2) bottom-right corners, in pixels of the photo "
                                   "as shown. Moving the sliders re-filters these raw boxes; the network does not run "
                                   "again.")
        else:
            st.caption("No box scores above the threshold: lower it to see the detector's less confident guesses.")
