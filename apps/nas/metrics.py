"""Classification metrics for the final report and the model card."""

import numpy as np

from apps.nas.results import ClassScores, TestReport, accuracy_interval


def classification_report(y_true, y_pred, class_names: list[str]) -> TestReport:
    """Accuracy with its 95% interval, per-class precision / recall / F1 / support, macro F1, confusion matrix.

    Args:
        y_true, y_pred: class indices (lists, arrays or tensors of the same length).
        class_names: name of each class index.
    """
    true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    classes = len(class_names)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (true, pred), 1)
    per_class = []
    for index, name in enumerate(class_names):
        hits = int(confusion[index, index])
        predicted, support = int(confusion[:, index].sum()), int(confusion[index].sum())
        precision = hits / predicted if predicted else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(ClassScores(name=name, precision=precision, recall=recall, f1=f1, support=support))
    right = int((true == pred).sum())
    low, high = accuracy_interval(right, len(true))
    return TestReport(
        accuracy=right / len(true) if len(true) else 0.0, images=len(true), accuracy_low=low, accuracy_high=high,
        macro_f1=float(np.mean([row.f1 for row in per_class])), per_class=per_class, confusion=confusion.tolist(),
    )
