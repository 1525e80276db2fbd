"""Behaviour of classifiers: accuracy, adversarial robustness and error consistency."""
