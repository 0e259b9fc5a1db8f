import numpy as np


def test_tiny_model_designs_deterministically(studio):
    a = studio.design({"hair": "bob"}, seed=5)
    b = studio.design_batch([{}, {"hair": "bob"}], [9, 5])[1]
    assert a.mode == "RGBA" and a.size == (studio.resolution, studio.resolution)
    assert np.array_equal(np.asarray(a), np.asarray(b))
