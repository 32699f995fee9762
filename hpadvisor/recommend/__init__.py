"""From a planned run to advice: every value with the law that gave it and the others' spread; the planned schedule; trainer snippets."""
