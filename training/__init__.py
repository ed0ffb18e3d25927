"""heed.training: the trainer. It reads `tokens/` Parquet only (schema in the README).

* data.py          the token loader: packing, document masks, Goldfish, streams over ranks
* goldfish.py      the Goldfish mask (Apertus's product hash, and a rolling hash)
* model.py         the model in one file (Apertus's architecture, ops from `kernels/`)
* optim.py         AdEMAMix (through heed.kernels.ademamix), AdamW, the WSD schedule
* config.py        training configs (configs/train-*.toml)
* train.py         the loop: DDP / FSDP2 under torchrun, evaluation, atomic checkpoints
* memorization.py  the Goldfish paper's memorisation check
* cli.py           `heed train` (added to `heed` through the heed.commands entry point)
"""
