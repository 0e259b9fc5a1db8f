import os
import subprocess
import sys

import numpy as np
import pytest

PROBE = """
import sys
if sys.argv[1] == "torch first":
    import torch
import avatar_studio, torch
print(torch.get_num_threads())
"""


def test_tiny_model_designs_deterministically(studio):
    a = studio.design({"hair": "bob"}, seed=5)
    b = studio.design_batch([{}, {"hair": "bob"}], [9, 5])[1]
    assert a.mode == "RGBA" and a.size == (studio.resolution, studio.resolution)
    assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("order, policy, threads, warned", [
    ("avatar_studio first", None, "2", False),       # the package sets OMP_WAIT_POLICY before torch starts
    ("torch first", "PASSIVE", "2", False),          # the user set it: nothing to do
    ("torch first", None, "1", True),                # too late to set it: one thread, and say why
])
def test_torch_imported_first_without_passive_wait_gets_one_thread_and_a_warning(order, policy, threads, warned):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update({"OMP_NUM_THREADS": "2", **({"OMP_WAIT_POLICY": policy} if policy else {})})
    r = subprocess.run([sys.executable, "-c", PROBE, order], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [threads]
    assert ("OMP_WAIT_POLICY=PASSIVE" in r.stderr) == warned, r.stderr
