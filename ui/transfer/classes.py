"""The Transfer learning page's first tab: the learner's own classes.

The class set lives in ``st.session_state[CLASSES]`` as a list of ``{"id", "name", "images"}`` dicts,
each image a ``{"id", "image", "source", "digest"}`` dict (a PIL RGB picture at most
``STORE_SIDE`` pixels on its longer side). Pictures stay in the session's memory: uploads are never
written to disk and their names are only shown, never used as paths. The first visit loads the
built-in example set, so the page works with no upload at all.
"""

from __future__ import annotations

import hashlib
import itertools

import streamlit as st
from PIL import Image, ImageOps

from core.data.images import ACCEPTED_TYPES, MAX_BYTES, MAX_PIXELS
from core.transfer.data import (
    EXAMPLE_SETS,
    MAX_CLASSES,
    MAX_IMAGES_PER_CLASS,
    MIN_IMAGES_PER_CLASS,
    STORE_SIDE,
    check_classes,
    check_name,
    example_set,
)
from ui import shell
from ui.upload import decode_upload

PAGE = "transfer"
CLASSES = f"{PAGE}.classes"
THUMB = 72
_ids = itertools.count(1)


def _digest(image: Image.Image) -> str:
    return hashlib.sha256(f"{image.size}".encode() + image.tobytes()).hexdigest()[:16]


def _new_image(image: Image.Image, source: str) -> dict:
    thumb = ImageOps.fit(image, (2 * THUMB, 2 * THUMB), Image.Resampling.BILINEAR)  # square, so the grid lines up
    return {"id": f"i{next(_ids)}", "image": image, "thumb": thumb, "source": source, "digest": _digest(image)}


def _new_class(name: str, images: list[Image.Image] | None = None, source: str = "") -> dict:
    return {"id": f"c{next(_ids)}", "name": name, "images": [_new_image(im, source) for im in images or []]}


def load_example(name: str, seed: int = 0) -> None:
    """Replace the class set by a built-in example set."""
    st.session_state[CLASSES] = [_new_class(cls, images, f"{name.split(':')[0].lower()} example")
                                 for cls, images in example_set(name, seed=seed).items()]


def classes() -> list[dict]:
    """The session's class set (the default example set on the first visit)."""
    if CLASSES not in st.session_state:
        load_example(EXAMPLE_SETS[0], seed=shell.global_seed())
    return st.session_state[CLASSES]


def class_set() -> dict[str, list[Image.Image]]:
    """``{name: pictures}`` for training (names stripped, in the order shown)."""
    return {c["name"].strip(): [im["image"] for im in c["images"]] for c in classes()}


def add_images(cls: dict, files, *, source_label: str = "") -> tuple[int, list[str]]:
    """Decode and add uploaded files (or camera shots) to ``cls``; returns (added, messages)."""
    added, messages, skipped_full, duplicates = 0, [], 0, 0
    known = {im["digest"] for im in cls["images"]}
    for f in files:
        decoded, error = decode_upload(f, STORE_SIDE)
        if decoded is None:
            messages.append(error)
            continue
        if len(cls["images"]) >= MAX_IMAGES_PER_CLASS:
            skipped_full += 1
            continue
        entry = _new_image(decoded.image, source_label or decoded.name)
        if entry["digest"] in known:
            duplicates += 1
            continue
        known.add(entry["digest"])
        cls["images"].append(entry)
        added += 1
    if skipped_full:
        messages.append(f"“{cls['name']}” is full ({MAX_IMAGES_PER_CLASS} images per class): {skipped_full} "
                        f"picture{'s were' if skipped_full != 1 else ' was'} not added.")
    if duplicates:
        messages.append(f"{duplicates} picture{'s were' if duplicates != 1 else ' was'} already in “{cls['name']}” "
                        "and not added again.")
    return added, messages


def render() -> None:
    st.markdown(
        "Make the classes you want the network to tell apart — two to ten of them, each with its own pictures. "
        f"Add pictures by uploading several at once or with the camera; each class needs at least "
        f"{MIN_IMAGES_PER_CLASS} (one in four is kept aside as the dev set) and takes up to {MAX_IMAGES_PER_CLASS}. "
        "The built-in example sets need no upload. **Try:** objects on your desk, your own handwriting of two "
        "letters, or photos of two kinds of plants — then train in the next tab."
    )
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    example = c1.selectbox("Example set", EXAMPLE_SETS, key=f"{PAGE}.example")
    if c2.button("Load the example set", icon=":material/restart_alt:", key=f"{PAGE}.load_example",
                 help="Replaces the current classes with 20 pictures per class."):
        load_example(example, seed=shell.global_seed())
        st.toast(f"Loaded “{example}”.")
    current = classes()
    for cls in list(current):
        _class_box(cls, current)
    _add_class(current)
    _summary(current)


def _class_box(cls: dict, current: list[dict]) -> None:
    n = len(cls["images"])
    with st.container(border=True):
        head = st.columns([3, 2, 1], vertical_alignment="bottom")
        name = head[0].text_input("Class name", cls["name"], max_chars=40, key=f"{PAGE}.name.{cls['id']}")
        if name != cls["name"]:
            cls["name"] = name
        head[1].markdown(f"**{n}** picture{'s' if n != 1 else ''} · at most {MAX_IMAGES_PER_CLASS}")
        if head[2].button("Remove class", icon=":material/delete:", key=f"{PAGE}.drop.{cls['id']}"):
            current.remove(cls)
            st.rerun()
        gen = st.session_state.get(f"{PAGE}.gen.{cls['id']}", 0)  # a new uploader key empties the box after adding
        up, cam = st.columns([3, 2])
        files = up.file_uploader(
            f"Add pictures to “{cls['name'] or 'this class'}”", type=list(ACCEPTED_TYPES), accept_multiple_files=True,
            key=f"{PAGE}.upload.{cls['id']}.{gen}",
            help=f"Several files at once: JPEG, PNG, WebP, BMP or GIF, each up to {MAX_BYTES // 2**20} MB and "
                 f"{MAX_PIXELS / 1e6:.0f} megapixels; pictures are kept at most {STORE_SIDE} pixels on their longer side.")
        shot = None
        if cam.toggle("Take pictures with the camera", key=f"{PAGE}.camera_on.{cls['id']}"):
            shot = cam.camera_input(f"Camera for “{cls['name'] or 'this class'}”", key=f"{PAGE}.camera.{cls['id']}.{gen}")
        new = [f for f in (files or [])] + ([shot] if shot is not None else [])
        if new:
            added, messages = add_images(cls, new, source_label="camera" if shot is not None and not files else "")
            st.session_state[f"{PAGE}.gen.{cls['id']}"] = gen + 1
            st.session_state[f"{PAGE}.notes.{cls['id']}"] = ([f"Added {added} picture{'s' if added != 1 else ''}."]
                                                             if added else []) + messages
            st.rerun()
        for note in st.session_state.get(f"{PAGE}.notes.{cls['id']}", []):
            (st.caption if note.startswith("Added") else st.warning)(note)
        _thumbnails(cls)


def _thumbnails(cls: dict) -> None:
    """The class's pictures, newest first (one row unless asked for all), each with a remove button."""
    images = cls["images"][::-1]
    if not images:
        st.caption("No pictures yet.")
        return
    per_row = 10
    show_all = len(images) <= per_row or st.toggle(f"Show all {len(images)} pictures", key=f"{PAGE}.all.{cls['id']}")
    shown = images if show_all else images[:per_row]
    for row in range(0, len(shown), per_row):
        cols = st.columns(per_row, gap="small")
        for col, entry in zip(cols, shown[row : row + per_row], strict=False):
            col.image(entry["thumb"], width=THUMB)
            if col.button("Remove", icon=":material/close:", key=f"{PAGE}.rm.{cls['id']}.{entry['id']}",
                          help=f"Remove this picture ({entry['source']}) from “{cls['name']}”", type="tertiary"):
                cls["images"].remove(entry)
                st.rerun()


def _add_class(current: list[dict]) -> None:
    taken = {c["name"].strip().casefold() for c in current}
    with st.form(f"{PAGE}.add_form", clear_on_submit=True, border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        name = c1.text_input("New class", placeholder="e.g. mug", max_chars=40, key=f"{PAGE}.new_name")
        go = c2.form_submit_button("Add class", icon=":material/add:", disabled=len(current) >= MAX_CLASSES)
    if len(current) >= MAX_CLASSES:
        st.caption(f"The lab takes at most {MAX_CLASSES} classes.")
    if go:
        problem = check_name(name, taken)
        if problem:
            st.error(problem)
        else:
            current.append(_new_class(name.strip()))
            st.rerun()


def _summary(current: list[dict]) -> None:
    problems = check_classes({c["name"]: c["images"] for c in current})
    total = sum(len(c["images"]) for c in current)
    if problems:
        st.warning("Not ready to train yet:\n\n" + "\n".join(f"- {p}" for p in problems), icon=":material/rule:")
    else:
        st.success(f"Ready: {len(current)} classes, {total} pictures. Train them in the next tab.",
                   icon=":material/check_circle:")

