"""The tokens contract between curation (which writes `tokens/`) and training (which reads it).

One Parquet file per shard, `tokens/part-NNNNN.parquet`, one row per kept document:
`id` (joins `documents.id`), `tokens` (uint32 ids: BOS, the text's tekken ids, EOS) and
`num_tokens`. `manifest.json` carries `format_version`; bump it on any incompatible change.
"""

from __future__ import annotations

import pyarrow as pa

FORMAT_VERSION = 1
# Mistral-Nemo's tekken tokenizer: 131,072 ids, <s> = 1 and </s> = 2.
VOCAB_SIZE = 131_072
BOS_ID = 1
EOS_ID = 2

TOKENS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("tokens", pa.list_(pa.uint32()), nullable=False),
        pa.field("num_tokens", pa.int32(), nullable=False),
    ]
)
