"""Which data a training run reads: `--data PATH` (any format of contest.data.formats), else the
IDX directory of `--data-dir` / $CONTEST_DATA_DIR, else the bundled MNIST; and its test set:
`--test PATH`, else the data's own test split (IDX t10k files, CIFAR-10 test_batch.bin), else none
(the results then report validation accuracy only)."""
from dataclasses import dataclass

from contest.data import datasets
from contest.data.formats import check_test_matches, has_test_split, load_data
from contest.data.spec import check_class_names
from contest.errors import ContestError


@dataclass
class TrainingSource:
    train: object          # formats.LabelledData
    test: object           # formats.LabelledData or None
    spec: object           # contest.data.spec.InputSpec
    label_column: str = "label"

    def identity(self):
        """The data entry of the run identity: for IDX data the same as before specs existed
        ({"dir", "md5"}: ensembles trained then can be resumed), else path, format and md5."""
        if self.train.format == "idx":
            return datasets.fingerprint("train", self.train.source)
        return self.train.fingerprint()

    def record(self):
        """The data entry of the manifest: the identity, the format and the test set's path
        (None for an IDX directory's own t10k files, found from "dir" as before specs)."""
        own_split = self.test is not None and self.train.format == "idx" and \
            self.test.source.resolve() == self.train.source.resolve()
        test = None if self.test is None or own_split else str(self.test.source.resolve())
        record = {**self.identity(), "format": self.train.format, "test": test}
        if self.train.format == "csv":
            record["label_column"] = self.label_column
        return record

    def header(self):
        """The progress header's line saying what is trained on."""
        test = "no test set (validation only)" if self.test is None else \
            f"test set {self.test.describe()} ({len(self.test.labels)} images)"
        return (f"training data: {self.train.describe()}: {len(self.train.labels)} "
                f"{self.spec.describe()}; {test}")


def data_path(data=None, data_dir=None):
    """The path to read: --data, else --data-dir / $CONTEST_DATA_DIR, else the bundled MNIST."""
    if data and data_dir:
        raise ContestError("--data and --data-dir (or $CONTEST_DATA_DIR) name two data sets; "
                           "give one")
    return data if data else datasets.resolve_data_dir(data_dir)


def training_source(data=None, data_dir=None, test=None, label_column="label", class_names=None):
    """TrainingSource of the training options, every file checked before any training."""
    path = data_path(data, data_dir)
    train = load_data(path, "train", label_column)
    spec = check_class_names(train.spec(), class_names)
    if test:
        test_data = load_data(test, "test", label_column)
    elif has_test_split(path):
        test_data = load_data(path, "test", label_column)
    else:
        test_data = None
    if test_data is not None:
        check_test_matches(test_data, spec)
    return TrainingSource(train, test_data, spec, label_column)
