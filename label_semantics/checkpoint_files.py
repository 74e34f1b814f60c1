"""What a saved checkpoint folder holds. `save_pretrained` writes into a folder that may hold an older checkpoint;
[`remove_stale_files`] then removes what that older save left and the new model does not need, so that loading the
folder reads the new model only (an old `pytorch_model.bin`, shard index or `label_tokenizer/` could otherwise be
picked up).

What counts as the model's, and may be removed when this save did not write it:

- weights of the same variant in any format: `pytorch_model.bin`, `model.safetensors`, `tf_model.h5`,
  `flax_model.msgpack`, their shards (`model-00001-of-00002.safetensors`) and shard indexes
  (`model.safetensors.index.json`);
- when the model saved a tokenizer, the tokenizer files it did not write (`vocab.txt`, `special_tokens_map.json`,
  `added_tokens.json`, ...);
- the `label_tokenizer/` subfolder (only the dual-tower model with a separate label tower writes it), and inside
  it every file the label tokenizer did not write;
- the package's modeling code (`modeling_*.py`, `configuration_*.py` and the files they import) that the saved
  model's remote code does not need.

Everything else stays: a README.md (the models that write a card rewrite it), training state (`optimizer.pt`,
`trainer_state.json`, `training_args.bin`), weights saved under another `variant`, and any file of the user's.

This file runs as remote code beside the modeling files, so it imports nothing from the package.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

WEIGHT_NAMES = ("pytorch_model.bin", "model.safetensors", "tf_model.h5", "flax_model.msgpack")
SAFE_WEIGHTS = "model.safetensors"
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "tokenizer.model",
        "chat_template.jinja",
        "chat_template.json",
    }
)
OWNED_SUBFOLDERS = ("label_tokenizer",)
_SHARD = re.compile(r"-\d{5}-of-\d{5}")


def _add_variant(name: str, variant: str | None) -> str:
    """`model.safetensors` -> `model.fp16.safetensors`, as transformers names a variant."""
    if variant is None:
        return name
    stem, extension = name.rsplit(".", 1)
    return f"{stem}.{variant}.{extension}"


def weight_files(names: Iterable[str], variant: str | None = None) -> set[str]:
    """The names among `names` that are weight files, shards or shard indexes of `variant` (any format).

    Args:
        names (`Iterable[str]`): file names (no folders).
        variant (`str`, *optional*): the weights variant, as in `save_pretrained(variant=...)`.

    Returns:
        `set[str]`: the weight-related names.
    """
    patterns = []
    for base in WEIGHT_NAMES:
        single = _add_variant(base, variant)
        stem, extension = single.rsplit(".", 1)
        patterns.append(re.compile(rf"{re.escape(single)}|{re.escape(stem)}-\d{{5}}-of-\d{{5}}\.{extension}"))
        patterns.append(re.compile(re.escape(_add_variant(f"{base}.index.json", variant))))
    return {name for name in names if any(p.fullmatch(name) for p in patterns)}


def _weights_to_keep(folder: Path, variant: str | None) -> set[str]:
    """The safetensors files of the save that just ran: its shard index and shards, or its single file.

    A sharded save writes the index and every shard it lists; an unsharded save writes `model.safetensors` and
    transformers deletes the shards of an older sharded save, so an index whose shards all exist is the new one.
    """
    index_name = _add_variant(f"{SAFE_WEIGHTS}.index.json", variant)
    index = folder / index_name
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        except (OSError, ValueError, AttributeError):
            shards = set()
        if shards and all((folder / shard).is_file() for shard in shards):
            return {index_name, *shards}
    return {_add_variant(SAFE_WEIGHTS, variant)}


def _code_closure(module_file: str | os.PathLike) -> set[str]:
    """A module file's name and the names of the files it imports relatively, recursively (what transformers
    copies into a saved folder)."""
    from transformers.dynamic_module_utils import get_relative_import_files

    return {Path(module_file).name, *(Path(f).name for f in get_relative_import_files(module_file))}


def _code_of(obj) -> set[str]:
    """The code files `save_pretrained` copies for `obj` (a model or config), as `custom_object_save` does."""
    if getattr(obj, "_auto_class", None) is None or obj.__module__ == "__main__":
        return set()
    module = sys.modules.get(obj.__module__)
    path = getattr(module, "__file__", None)
    return _code_closure(path) if path else set()


def _package_code() -> set[str]:
    """Every code file a model of this package could copy into a folder: the modeling and configuration modules
    beside this file and what they import."""
    here = Path(__file__).resolve().parent
    names: set[str] = set()
    for path in sorted(here.glob("*.py")):
        if path.name.startswith(("modeling_", "configuration_")):
            names |= _code_closure(path)
    return names


def stale_files(
    model, save_directory: str | os.PathLike, written: Iterable[str] = (), *, variant=None
) -> list[Path]:
    """The files and folders of `save_directory` that an older save left and `model` does not need.

    Args:
        model ([`PreTrainedModel`]): the model just saved.
        save_directory (`str` or `os.PathLike`): the folder it was saved into.
        written (`Iterable[str]`): paths of the tokenizer files this save wrote (what `tokenizer.save_pretrained`
            returns), inside the folder or its subfolders.
        variant (`str`, *optional*): the `variant` the weights were saved under.

    Returns:
        `list[Path]`: what [`remove_stale_files`] would remove, sorted.
    """
    folder = Path(save_directory)
    names = {p.name for p in folder.iterdir() if p.is_file()}
    written_paths = {Path(p).resolve() for p in written}
    written_top = {p.name for p in written_paths if p.parent == folder.resolve()}
    stale = weight_files(names, variant) - _weights_to_keep(folder, variant)
    if written_top:  # the model saved its tokenizer: the tokenizer files it did not write are an older one's
        stale |= (names & TOKENIZER_FILES) - written_top
    stale |= (names & _package_code()) - _code_of(model) - _code_of(model.config)
    result = [folder / name for name in stale]
    for sub in OWNED_SUBFOLDERS:
        path = folder / sub
        if not path.is_dir():
            continue
        inside = [p for p in path.rglob("*") if p.is_file() and p.resolve() not in written_paths]
        if any(p.resolve().parent == path.resolve() for p in written_paths):
            result += inside
        else:
            result.append(path)
    return sorted(result)


def remove_stale_files(
    model, save_directory: str | os.PathLike, written: Iterable[str] = (), *, variant=None
) -> list[Path]:
    """Remove what an older checkpoint left in `save_directory` and the model just saved there does not need
    (see this module's docstring for what counts). Call it last in `save_pretrained`, on the main process only.

    Args:
        model ([`PreTrainedModel`]): the model just saved.
        save_directory (`str` or `os.PathLike`): the folder it was saved into.
        written (`Iterable[str]`): the tokenizer files this save wrote (what `tokenizer.save_pretrained` returns).
        variant (`str`, *optional*): the `variant` the weights were saved under.

    Returns:
        `list[Path]`: the removed files and folders.
    """
    removed = stale_files(model, save_directory, written, variant=variant)
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    if removed:
        logger.info(
            "Removed what an older save left in %s: %s", save_directory, ", ".join(p.name for p in removed)
        )
    return removed


__all__ = ["remove_stale_files", "stale_files", "weight_files"]
