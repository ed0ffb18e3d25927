"""Tokenization with Mistral-Nemo's tekken tokenizer (byte-level BPE, 131,072 ids), whose file
ships inside the `mistral-common` wheel. Ids are stored as uint32 with BOS and EOS."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa

from heed.common.files import sha256_file
from heed.curation.document import Document
from heed.curation.stage import RunContext, Stage

# Mistral-Nemo (July 2024) uses tekken_240718; mistral-common also ships later revisions.
DEFAULT_TOKENIZER = "tekken_240718.json"
_TOKENIZERS: dict[str, object] = {}


def tokenizer_path(path: str = "") -> Path:
    return (
        Path(path)
        if path
        else Path(str(importlib.resources.files("mistral_common") / "data" / DEFAULT_TOKENIZER))
    )


def load_tokenizer(path: str = ""):
    """The tekken tokenizer, loaded once per process (about 520 MB)."""
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    file = str(tokenizer_path(path))
    if file not in _TOKENIZERS:
        if not Path(file).is_file():
            raise FileNotFoundError(f"tokenizer file not found: {file}")
        _TOKENIZERS[file] = Tekkenizer.from_file(file)
    return _TOKENIZERS[file]


@dataclass
class Tokenize(Stage):
    name: ClassVar[str] = "tokenize"
    version: ClassVar[str] = "1"
    columns: ClassVar[dict[str, pa.DataType]] = {"num_tokens": pa.int32()}
    writes_tokens: ClassVar[bool] = True
    reasons: ClassVar[dict[str, str]] = {
        "too_few_tokens": "fewer than min_tokens tokens besides BOS and EOS",
    }
    path_params: ClassVar[tuple[str, ...]] = ("tokenizer",)

    tokenizer: str = ""  # a tekken JSON file; empty = Mistral-Nemo's from mistral-common
    min_tokens: int = 1

    def setup(self, context: RunContext) -> None:
        tokenizer = load_tokenizer(self.tokenizer)
        # Tekkenizer.encode's own ids, without its per-token Python list work (a third of
        # this stage's time): its tiktoken BPE straight into numpy, then its id offset.
        self._bpe = tokenizer._model
        self._offset = tokenizer.num_special_tokens
        self._bos, self._eos = tokenizer.bos_id, tokenizer.eos_id

    def assets(self) -> dict[str, str]:
        return {tokenizer_path(self.tokenizer).name: sha256_file(tokenizer_path(self.tokenizer))}

    def encode(self, text: str) -> np.ndarray:
        """Tekkenizer.encode(text, bos=True, eos=True), as uint32 (after `setup`)."""
        try:
            bpe = self._bpe.encode_to_numpy(text)
        except UnicodeEncodeError:  # lone surrogates: tiktoken's encode() mends them
            bpe = np.asarray(self._bpe.encode(text), np.uint32)
        ids = np.empty(len(bpe) + 2, np.uint32)
        ids[0], ids[-1] = self._bos, self._eos
        np.add(bpe, self._offset, out=ids[1:-1])
        return ids

    def process(self, docs: list[Document]) -> None:
        for doc in docs:
            ids = self.encode(doc.text or "")
            doc.tokens = ids
            doc.scores["num_tokens"] = len(ids)
            # BOS and EOS alone are not a document.
            if len(ids) - 2 < self.min_tokens:
                doc.drop(self.name, "too_few_tokens", f"{len(ids) - 2} < {self.min_tokens}")
