"""Analysis: topic rules, segmentation, sentiment and sensitivity, events, heat and grades."""
