import json
import os
import subprocess
import sys

import numpy as np
import pytest

PROBE = """
import json, os, sys, warnings
warnings.simplefilter("always")
order, weights = sys.argv[1], sys.argv[2]
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # a small CPU: one usable core
with warnings.catch_warnings(record=True) as caught:
    if order == "torch, then tune_cpu":
        import torch
        import avatar_studio
        avatar_studio.tune_cpu()
    elif order == "tune_cpu, then torch":
        import avatar_studio
        avatar_studio.tune_cpu()
        import torch
    else:  # a library user who never calls it
        import avatar_studio
        torch_loaded = "torch" in sys.modules
        import torch
        from avatar_studio import AvatarStudio
        AvatarStudio.from_pretrained(weights, device="cpu"), AvatarStudio.from_pretrained(weights, device="cpu")
print(json.dumps({"policy": os.environ.get("OMP_WAIT_POLICY"), "threads": torch.get_num_threads(),
                  "torch on import": order == "library only" and torch_loaded,
                  "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]}))
"""


def test_tiny_model_designs_deterministically(studio):
    a = studio.design({"hair": "bob"}, seed=5)
    b = studio.design_batch([{}, {"hair": "bob"}], [9, 5])[1]
    assert a.mode == "RGBA" and a.size == (studio.resolution, studio.resolution)
    assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.server
@pytest.mark.parametrize("order, policy, threads, warned", [
    ("tune_cpu, then torch", None, 2, None),           # the entry points' order: PASSIVE before torch starts
    ("torch, then tune_cpu", "PASSIVE", 2, None),      # the user set it: nothing to undo
    ("torch, then tune_cpu", None, 1, "torch was imported first"),   # too late: one thread, and why
    ("library only", None, 2, "call avatar_studio.tune_cpu() before importing torch"),  # once, with the cost
])
def test_cpu_tuning_is_one_explicit_call_and_importing_changes_nothing(tiny_weights, order, policy, threads, warned):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update({"OMP_NUM_THREADS": "2", **({"OMP_WAIT_POLICY": policy} if policy else {})})
    r = subprocess.run([sys.executable, "-c", PROBE, order, str(tiny_weights)], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout)
    assert got["threads"] == threads
    assert got["policy"] == (None if order == "library only" else "PASSIVE"), "importing changes no environment"
    assert got["torch on import"] is False, "import avatar_studio does not load torch"
    if warned is None:
        assert got["warnings"] == []
    else:
        assert len(got["warnings"]) == 1 and warned in got["warnings"][0], got["warnings"]
        assert "ms untuned vs" in got["warnings"][0] and "ms tuned" in got["warnings"][0], "the measured cost"
