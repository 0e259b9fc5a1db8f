"""The tagging page of train.label (Gradio): ``python -m train.label --serve DIR``.

A grid of the images worth tagging next (OUT/suggest.jsonl after a run, else the untagged
images), a click opens one: one radio per attribute (pre-set to its saved tag, else its
pseudo-label) and a colour picker per colour. Clicking a class saves that tag at once: each
click appends one line to TAGS.jsonl and syncs it to disk, so nothing is lost on a crash, and
the page reloads them from there. "Save all shown" tags every shown value of the image;
"Refresh pseudo-labels" runs train.label on the tags so far (features from the cache) and
shows the new suggestions.

Named endpoints (gradio_client): /tag (file_name, attribute, value) -> the image's tags as JSON,
/tags (file_name) -> the same, /refresh () -> a one-line summary.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import gradio as gr

from avatar_studio.attributes import Vocabulary, parse_color
from train.label import (IMAGES, LabelError, SUGGEST, list_images, read_tag_lines, read_vocabulary_file, run,
                         vocabulary_from_tags)

GRID = 48


class TagStore:
    """TAGS.jsonl as an append-only log: one line per click, later lines win."""

    def __init__(self, path: Path, files: list[str], vocab: Vocabulary):
        self.path, self.files, self.vocab = Path(path), set(files), vocab
        self.lock = threading.Lock()

    def all(self) -> dict[str, dict[str, str]]:
        if not self.path.is_file():
            return {}
        merged: dict[str, dict[str, str]] = {}
        for _, row in read_tag_lines(self.path):
            name = row.get("file_name")
            if isinstance(name, str):
                merged.setdefault(name, {}).update({k: v for k, v in row.items() if k != "file_name"})
        return merged

    def of(self, file_name: str) -> dict[str, str]:
        return self.all().get(file_name, {})

    def add(self, file_name: str, values: dict[str, str]) -> dict[str, str]:
        """Validate, append one line, fsync; returns the image's tags after it."""
        if file_name not in self.files:
            raise LabelError(f"image {str(file_name)[:80]!r} is not in the images folder")
        clean = {}
        for key, value in values.items():
            if key in self.vocab.categorical:
                if value not in self.vocab.categorical[key]:
                    raise LabelError(f"unknown {key} {str(value)[:40]!r}; choose one of: "
                                     f"{', '.join(self.vocab.categorical[key])}")
                clean[key] = value
            elif key in self.vocab.colors:
                clean[key] = parse_color(key, value)
            else:
                raise LabelError(f"unknown attribute {str(key)[:40]!r}; expected: {', '.join(self.vocab.names)}")
        if clean:
            with self.lock, open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"file_name": file_name, **clean}) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return self.of(file_name)


def page_vocabulary(tags: Path, vocabulary: Path | None) -> Vocabulary:
    if vocabulary is not None:
        return read_vocabulary_file(vocabulary)
    if Path(tags).is_file():
        return vocabulary_from_tags(read_tag_lines(tags))
    raise LabelError(f"the tagging page needs the classes: pass --vocabulary FILE, or --tags a file that names "
                     f"them ({tags} does not exist yet)")


def build_page(images: Path, tags: Path, out: Path, vocab: Vocabulary, vocabulary: Path | None = None,
               size: int = 128, cache: Path | None = None, suggest: int = GRID) -> gr.Blocks:
    """``vocabulary``: the declared vocabulary file (None: the classes the tags name)."""
    images, out = Path(images), Path(out)
    files = list_images(images, skip=out)
    store = TagStore(tags, files, vocab)

    def grid() -> tuple[list[tuple[str, str]], list[str]]:
        path = out / SUGGEST
        names = [json.loads(line)["file_name"] for line in path.read_text().splitlines() if line.strip()] \
            if path.is_file() else []
        if not names:
            tagged = store.all()
            names = [f for f in files if f not in tagged][:GRID]
        return [(str(images / n), n) for n in names], names

    def pseudo_labels() -> dict[str, dict]:
        path = out / "metadata.jsonl"
        if not path.is_file():
            return {}
        rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
        return {Path(r["file_name"]).relative_to(IMAGES).with_suffix("").as_posix(): r for r in rows}

    def shown(file_name: str) -> list:
        """Per attribute: the saved tag, else the pseudo-label of the last run, else nothing."""
        saved = store.of(file_name)
        guess = pseudo_labels().get(Path(file_name).with_suffix("").as_posix(), {})
        return [saved.get(n, guess.get(n)) for n in vocab.names]

    def tag(file_name: str, attribute: str, value: str) -> str:
        """Save one tag; returns the image's tags (JSON)."""
        try:
            return json.dumps(store.add(file_name, {attribute: value}))
        except (LabelError, ValueError) as e:
            raise gr.Error(str(e)) from None

    def tags_of(file_name: str) -> str:
        """The saved tags of one image (JSON)."""
        return json.dumps(store.of(file_name))

    def refresh() -> str:
        """Run train.label on the tags so far; a one-line summary."""
        try:
            result = run(images, tags, out, suggest=suggest, vocabulary=vocabulary, size=size, cache=cache,
                         progress=False, log=lambda *_: None)
        except LabelError as e:
            raise gr.Error(str(e).splitlines()[0]) from None
        return f"{len(result.files)} images labelled from {len(store.all())} tagged; {len(result.suggest)} suggestions"

    with gr.Blocks(title="Avatar Studio: tag your art") as page:
        gr.Markdown("Click an image, then a class: each click is saved to the tags file at once.")
        names_state = gr.State([])
        with gr.Row():
            gallery = gr.Gallery(label="tag these next", columns=8, height=420, allow_preview=False)
            with gr.Column():
                current = gr.Textbox(label="image", interactive=False)
                picture = gr.Image(label="preview", interactive=False, height=200)
        inputs = []
        with gr.Row():
            for name, choices in vocab.categorical.items():
                radio = gr.Radio(choices, label=name, interactive=True)
                radio.input(lambda f, v, name=name: tag(f, name, v), [current, radio], None, api_name=False)
                inputs.append(radio)
            for name in vocab.colors:
                picker = gr.ColorPicker(label=name, interactive=True)
                picker.input(lambda f, v, name=name: tag(f, name, v), [current, picker], None, api_name=False)
                inputs.append(picker)
        with gr.Row():
            save_all = gr.Button("Save all shown")
            refresh_button = gr.Button("Refresh pseudo-labels")
        status = gr.Markdown()

        def open_image(names: list[str], evt: gr.SelectData):
            name = names[evt.index]
            return [name, str(images / name)] + shown(name)

        def save_shown(file_name: str, *values):
            if not file_name:
                raise gr.Error("click an image first")
            return tag_many(file_name, dict(zip(vocab.names, values)))

        def tag_many(file_name: str, values: dict) -> str:
            try:
                saved = store.add(file_name, {k: v for k, v in values.items() if v})
            except (LabelError, ValueError) as e:
                raise gr.Error(str(e)) from None
            return f"saved {len(saved)} tags of {file_name}"

        page.load(grid, None, [gallery, names_state], api_name=False)
        gallery.select(open_image, [names_state], [current, picture, *inputs], api_name=False)
        save_all.click(save_shown, [current, *inputs], status, api_name=False)
        refresh_button.click(refresh, None, status, api_name=False).then(grid, None, [gallery, names_state],
                                                                          api_name=False)
        gr.api(tag, api_name="tag")
        gr.api(tags_of, api_name="tags")
        gr.api(refresh, api_name="refresh")
    return page


def serve(images: Path, tags: Path | None, out: Path | None, vocabulary: Path | None, size: int,
          cache: Path | None, port: int, block: bool = True):
    """Open the page on 127.0.0.1:port. Defaults: TAGS = DIR/tags.jsonl, OUT = DIR-labelled beside DIR."""
    images = Path(images)
    if not images.is_dir():
        raise LabelError(f"--serve {images}: not a folder")
    tags = tags or images / "tags.jsonl"
    out = out or images.parent / f"{images.name}-labelled"
    vocab = page_vocabulary(tags, vocabulary)
    page = build_page(images, tags, out, vocab, vocabulary, size, cache)
    page.queue(default_concurrency_limit=1)
    print(f"tags are saved to {tags}; pseudo-labels go to {out}")
    return page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=not block,
                       show_error=True, allowed_paths=[str(images.resolve())])
