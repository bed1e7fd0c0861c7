"""pinpoint: find the attention heads that make a language model sycophantic, and tune only those."""
