"""`contest predict -o -`: the submission on standard output and nothing else there."""
import numpy as np

from contest import Ensemble
from contest_testutil import invoke


def test_dash_writes_the_submission_to_stdout_and_the_summary_to_stderr(models, exported,
                                                                        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images, _ = exported
    result = invoke(["predict", images, "--models", models, "-o", "-", "--format", "csv"])
    assert result.exit_code == 0, result.output
    labels = Ensemble.load(models).predict(images)
    expected = "ImageId,Label\n" + "".join(f"{i},{k}\n" for i, k in enumerate(labels, 1))
    assert result.stdout == expected
    assert "predicted 200 images" in result.stderr and "standard output" in result.stderr
    assert list(tmp_path.iterdir()) == []   # no file named '-'
    plain = invoke(["predict", images, "--models", models, "-o", "-"])
    assert np.array(plain.stdout.split(), dtype=np.int64).tolist() == labels.tolist()
