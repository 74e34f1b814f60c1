"""label-semantics: few-shot NER and text classification that read the labels' names."""

from __future__ import annotations

__version__ = "0.1.0"
