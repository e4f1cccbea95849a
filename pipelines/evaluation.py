"""Quality measures shared by tests, benchmarks and `autointel eval`: word error rate, classification
figures (accuracy, macro-F1, per-label precision and recall) and calibration."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")


def normalise_words(text: str) -> list[str]:
    """Lower-case words without punctuation (the usual normalisation before WER)."""
    return _WORD.findall(text.lower().replace("-", " "))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance on words."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (ref_word != hyp_word),
            )
        previous = current
    return previous[-1] / len(ref)


def classification_report(gold: list[str], predicted: list[str], labels: list[str]) -> dict[str, object]:
    """Accuracy, macro-F1 over `labels` and the confusion matrix (rows gold, columns predicted)."""
    matrix = {g: dict.fromkeys(labels, 0) for g in labels}
    for g, p in zip(gold, predicted, strict=True):
        matrix[g][p] += 1
    f1s = []
    per_label: dict[str, dict[str, float | int]] = {}
    for label in labels:
        tp = matrix[label][label]
        fp = sum(matrix[g][label] for g in labels) - tp
        fn = sum(matrix[label].values()) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        per_label[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1s[-1], 4),
            "predicted": tp + fp,
            "gold": tp + fn,
        }
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    return {
        "n": len(gold),
        "accuracy": round(correct / len(gold), 4) if gold else 0.0,
        "macro_f1": round(sum(f1s) / len(labels), 4),
        "per_label": per_label,
        "confusion": matrix,
    }


def calibration(
    confidences: list[float | None], correct: list[bool], bins: int = 5
) -> list[dict[str, object]]:
    """Confidence bins against accuracy: how often verdicts stated with that confidence were right."""
    rows: list[dict[str, object]] = []
    for number in range(bins):
        low, high = number / bins, (number + 1) / bins
        inside = [
            (c, ok)
            for c, ok in zip(confidences, correct, strict=True)
            if c is not None and (low <= c < high or (number == bins - 1 and c == high))
        ]
        rows.append(
            {
                "bin": f"{low:.1f}-{high:.1f}",
                "n": len(inside),
                "mean_confidence": round(sum(c for c, _ in inside) / len(inside), 4) if inside else None,
                "accuracy": round(sum(ok for _, ok in inside) / len(inside), 4) if inside else None,
            }
        )
    return rows
