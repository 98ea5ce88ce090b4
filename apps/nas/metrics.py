"""Classification metrics for the final report and the model card."""

import numpy as np


def classification_report(y_true, y_pred, class_names: list[str]) -> dict:
    """Accuracy, per-class precision / recall / F1 / support, macro F1 and the confusion matrix.

    Args:
        y_true, y_pred: class indices (lists, arrays or tensors of the same length).
        class_names: name of each class index.

    Returns:
        {"accuracy", "macro_f1", "per_class": [{"name", "precision", "recall", "f1", "support"}],
         "confusion": rows = true class, columns = predicted class (counts)}
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
        per_class.append({"name": name, "precision": precision, "recall": recall, "f1": f1, "support": support})
    return {
        "accuracy": float((true == pred).mean()) if len(true) else 0.0,
        "macro_f1": float(np.mean([row["f1"] for row in per_class])),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }
