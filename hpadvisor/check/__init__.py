"""`hpadvisor check`: a trainer's config against the advice. Rules are pure functions of a Context; settings and output formats beside them."""
