"""Avatar Studio: `python app.py` serves the designer (also the Hugging Face Space entry point).

``demo`` is the page, built at import as Gradio's own demos and Spaces do; AVATAR_STUDIO_WEIGHTS
(a weights folder or a Hub id) picks other weights than the shipped ones.
"""
import sys

import avatar_studio

avatar_studio.tune_cpu()  # before torch loads (the imports below): see avatar_studio/cpu.py

from avatar_studio import AvatarStudio, WeightsError  # noqa: E402
from avatar_studio.serving import launch  # noqa: E402
from avatar_studio.studio import DEFAULT_WEIGHTS  # noqa: E402
from avatar_studio.ui import build_demo  # noqa: E402


def load_studio() -> AvatarStudio:
    try:
        studio = AvatarStudio.from_pretrained()
    except WeightsError as e:
        sys.exit(f"Avatar Studio cannot start: {e}\nExport a trained model to {DEFAULT_WEIGHTS} "
                 "(python -m train.export), or point AVATAR_STUDIO_WEIGHTS at a weights folder.")
    studio.render_png({"seed": 0, "spec": {}})    # warm once, before the first visitor
    return studio


demo = build_demo(load_studio())

if __name__ == "__main__":
    launch(demo)
