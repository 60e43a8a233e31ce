"""Fax: the result-code catalogue, the renderer (mail → TIFF-F pages) and the transports."""
