"""``datamap run``: whole experiments (cartography, selections, retraining, evaluation) from one YAML file."""
