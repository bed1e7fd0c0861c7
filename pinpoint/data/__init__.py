"""Data: facts and their sources, the synthesized records and their schema, published formats, the filter."""
