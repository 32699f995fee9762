"""Hyperparameter transfer from a tuned proxy to a target model (muP, CompleteP, ...): plans and trainer emitters."""
