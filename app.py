"""Avatar Studio: `python app.py` serves the designer (also the Hugging Face Space entry point).

``demo`` is the page, built at import as Gradio's own demos and Spaces do; AVATAR_STUDIO_WEIGHTS
(a weights folder or a Hub id) picks other weights than the shipped ones.
"""
import sys

from avatar_studio import AvatarStudio, WeightsError
from avatar_studio.serving import launch
from avatar_studio.studio import DEFAULT_WEIGHTS
from avatar_studio.ui import build_demo


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
