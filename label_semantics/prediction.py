"""From text to entities: split words with character offsets, cut long inputs into overlapping windows so that
every word gets a prediction, batch windows by length, decode the word scores into entity spans."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .decoding import tags_to_spans, viterbi_decode_sentences
from .precision import resolve_dtype, scoring_function
from .tag_structure import TagStructure
from .verbalizer import spans_to_tags

_FALLBACK_WORD = re.compile(r"\w+|[^\w\s]")
# scripts written without spaces between words (Han, Hiragana, Katakana and their marks): one word per character,
# so that an entity can be part of a run of them
_UNSPACED = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


@dataclass
class _Sentence:
    words: list[str]
    offsets: list[tuple[int, int]] | None  # character offsets into `text`, None for pre-tokenised input
    text: str | None


def split_words(text: str, tokenizer) -> list[tuple[str, tuple[int, int]]]:
    """Split raw text into words with character offsets, using the fast tokenizer's own pre-tokenizer so the words
    are the units the tokenizer sees (for BERT: whitespace and punctuation splits).

    Args:
        text (`str`): the input.
        tokenizer: a fast tokenizer; texts are split on words and punctuation when it has no pre-tokenizer.

    Returns:
        `list[tuple[str, tuple[int, int]]]`: the words and their `(start, end)` offsets into `text`.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre_tokenizer = getattr(backend, "pre_tokenizer", None)
    if pre_tokenizer is None:
        return _split_unspaced([(m.group(), (m.start(), m.end())) for m in _FALLBACK_WORD.finditer(text)])
    words = []
    for _, (start, end) in pre_tokenizer.pre_tokenize_str(text):
        # byte-level pre-tokenizers attach the preceding space to a word; keep offsets on the visible part
        while start < end and text[start].isspace():
            start += 1
        if start < end:
            words.append((text[start:end], (start, end)))
    return _split_unspaced(words)


def _split_unspaced(words: list[tuple[str, tuple[int, int]]]) -> list[tuple[str, tuple[int, int]]]:
    """Cut every Han / Hiragana / Katakana character out of the words as a word of its own (Chinese and Japanese
    write no spaces; BERT's own basic tokenizer does the same). Other scripts without spaces (Thai, Khmer) are left
    as they are: pass pre-split words for them."""
    out = []
    for word, (start, end) in words:
        if not _UNSPACED.search(word):
            out.append((word, (start, end)))
            continue
        piece = start
        for position in range(start, end):
            if _UNSPACED.match(word[position - start]):
                if piece < position:
                    out.append((word[piece - start : position - start], (piece, position)))
                out.append((word[position - start], (position, position + 1)))
                piece = position + 1
        if piece < end:
            out.append((word[piece - start :], (piece, end)))
    return out


def _as_sentences(inputs, tokenizer, is_split_into_words: bool) -> tuple[list[_Sentence], bool]:
    """Normalise the accepted input forms; returns the sentences and whether a single input was given."""
    if isinstance(inputs, str):
        return [_sentence_from_text(inputs, tokenizer)], True
    if not isinstance(inputs, Sequence):
        raise TypeError(
            f"predict() takes a str, a list of str, or pre-tokenised words, got {type(inputs).__name__}. "
            "Example: model.predict('John lives in Paris.')"
        )
    if is_split_into_words:
        if inputs and all(isinstance(w, str) for w in inputs):
            return [_Sentence(list(inputs), None, None)], True
        return [_Sentence(list(words), None, None) for words in inputs], False
    sentences = []
    for item in inputs:
        if isinstance(item, str):
            sentences.append(_sentence_from_text(item, tokenizer))
        elif isinstance(item, Sequence) and all(isinstance(w, str) for w in item):
            sentences.append(_Sentence(list(item), None, None))
        else:
            raise TypeError(
                f"predict() got a list holding {type(item).__name__}; give a list of str (texts) or a list of "
                "lists of str (pre-tokenised sentences)."
            )
    return sentences, False


def _sentence_from_text(text: str, tokenizer) -> _Sentence:
    pairs = split_words(text, tokenizer)
    return _Sentence([w for w, _ in pairs], [o for _, o in pairs], text)


def _windows(sentences: list[_Sentence], tokenizer, max_length: int, stride: int):
    """Tokenise every sentence into windows of at most `max_length` tokens overlapping by `stride` tokens.

    Returns a list of `(sentence_index, input_ids, word_ids)` and, per sentence and word, the chosen
    `(window_index, token_position)`: the window in which the word's first sub-token has the most context.
    """
    windows = []
    best: list[dict[int, tuple[int, int, int]]] = [{} for _ in sentences]
    todo = [i for i, s in enumerate(sentences) if s.words]
    if not todo:
        return windows, best
    words = [list(sentences[i].words) for i in todo]
    encoding = _encode_windows(tokenizer, words, max_length, stride)
    # a word the tokenizer drops entirely (e.g. a lone variation selector U+FE0F) is read as the unknown token,
    # so that it still gets a prediction
    seen: list[set[int]] = [set() for _ in todo]
    for w, sample in enumerate(encoding["overflow_to_sample_mapping"]):
        seen[sample].update(x for x in encoding.word_ids(w) if x is not None)
    if any(len(seen[j]) < len(words[j]) for j in range(len(todo))):
        unk = tokenizer.unk_token or "[UNK]"
        words = [[wd if i in seen[j] else unk for i, wd in enumerate(ws)] for j, ws in enumerate(words)]
        encoding = _encode_windows(tokenizer, words, max_length, stride)
    mapping = encoding["overflow_to_sample_mapping"]
    # a word's first sub-token is the one with the word's smallest in-word offset; a window that opens in the middle
    # of a word holds only later sub-tokens of it and does not claim that word
    first_offset: list[dict[int, int]] = [{} for _ in todo]
    for w, sample in enumerate(mapping):
        for word, (start, _) in zip(encoding.word_ids(w), encoding["offset_mapping"][w]):
            if word is not None and start < first_offset[sample].get(word, start + 1):
                first_offset[sample][word] = start
    for w, sample in enumerate(mapping):
        sent = todo[sample]
        word_ids = encoding.word_ids(w)
        offsets = encoding["offset_mapping"][w]
        length = len(word_ids)
        for pos, word in enumerate(word_ids):
            if word is None or offsets[pos][0] != first_offset[sample][word]:
                continue
            if pos > 0 and word_ids[pos - 1] == word:
                continue  # a later sub-token with the same offset (some tokenizers repeat it)
            context = min(pos, length - 1 - pos)
            if word not in best[sent] or context > best[sent][word][2]:
                best[sent][word] = (len(windows), pos, context)
        windows.append((sent, encoding["input_ids"][w], word_ids))
    return windows, best


def _encode_windows(tokenizer, words: list[list[str]], max_length: int, stride: int):
    return tokenizer(
        words,
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        add_special_tokens=True,
        return_offsets_mapping=True,
    )


@torch.inference_mode()
def _score_windows(model, windows, batch_size: int, pad_id: int, dtype=None) -> list[torch.Tensor]:
    """Log-probabilities `(length, num_labels)` for every window, computed in batches of similar length; the
    encoder runs in `dtype` (see `precision.scoring_function`), the log-probabilities are float32."""
    order = sorted(range(len(windows)), key=lambda i: len(windows[i][1]))
    scores: list[torch.Tensor | None] = [None] * len(windows)
    device = model.device
    run = scoring_function(model, dtype)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = max(len(windows[i][1]) for i in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids = windows[i][1]
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        log_probs = run(input_ids.to(device), attention_mask.to(device)).log_softmax(-1).cpu()
        for row, i in enumerate(batch):
            scores[i] = log_probs[row, : len(windows[i][1])]
    return scores


def _prepare(model, tokenizer, max_length, stride, batch_size, dtype=None):
    resolve_dtype(dtype)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"batch_size={batch_size!r} must be a positive whole number of windows, e.g. batch_size=32."
        )
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3
    ):
        raise ValueError(
            f"max_length={max_length!r} must be a whole number of tokens above 2, e.g. max_length=128."
        )
    tokenizer = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "Prediction needs a fast tokenizer: load the model with from_pretrained/from_encoder on a folder that "
            "holds one, or pass tokenizer=AutoTokenizer.from_pretrained(path)."
        )
    limit = _window_limit(model, tokenizer)
    max_length = min(max_length or limit, limit)
    stride = stride if stride is not None else max_length // 4
    if not 0 <= stride < max_length - 2:
        raise ValueError(
            f"stride={stride} must be at least 0 and smaller than max_length - 2 = {max_length - 2}; "
            f"e.g. stride={max_length // 4}."
        )
    return tokenizer, max_length, stride


def _word_scores(
    model, sentences, tokenizer, max_length, stride, batch_size, dtype=None
) -> list[torch.Tensor | None]:
    """Per sentence, the log-probabilities `(num_words, num_labels)` read at each word's first sub-token."""
    windows, best = _windows(sentences, tokenizer, max_length, stride)
    was_training = model.training
    model.eval()
    try:
        scores = _score_windows(model, windows, batch_size, tokenizer.pad_token_id or 0, dtype)
    finally:
        model.train(was_training)
    out = []
    for s, sentence in enumerate(sentences):
        if not sentence.words:
            out.append(None)
            continue
        missing = [w for w in range(len(sentence.words)) if w not in best[s]]
        if missing:
            raise RuntimeError(f"words {missing} of sentence {s} received no prediction; please report this")
        out.append(torch.stack([scores[best[s][w][0]][best[s][w][1]] for w in range(len(sentence.words))]))
    return out


def _decode(model, scores: list[torch.Tensor | None], viterbi: bool) -> list[list[int]]:
    """Label ids of every sentence in the model's own scheme: argmax, or batched Viterbi over the transitions the
    scheme allows plus, for a model with a CRF (`config.crf`), its learned collapsed transitions."""
    if not viterbi:
        return [[] if s is None else s.argmax(-1).tolist() for s in scores]
    labels = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    structure = TagStructure.from_labels(labels, getattr(model.config, "tag_scheme", None))
    crf = getattr(model, "crf", None)
    learned = {}
    if crf is not None:
        learned = {
            "transitions": crf.transitions.detach().float().cpu(),
            "start_transitions": crf.start_transitions.detach().float().cpu(),
            "end_transitions": crf.end_transitions.detach().float().cpu(),
        }
    return viterbi_decode_sentences(scores, structure, **learned)


def to_data_scheme(model, tags: list[str]) -> list[str]:
    """Write the tags of one sentence, decoded in the model's own scheme (`config.tag_scheme`), in the scheme of the
    labels the user gave (`config.data_scheme`); unchanged when the two are the same. Converting to IO joins
    adjacent entities of one type, as IO data cannot tell them apart.

    Args:
        model: a token classifier whose config may hold `tag_scheme` and `data_scheme`.
        tags (`list[str]`): tags of the model's labels (`id2label`).

    Returns:
        `list[str]`: as many tags, in the data's scheme.
    """
    own = getattr(model.config, "tag_scheme", None)
    data = getattr(model.config, "data_scheme", None) or own
    if own is None or data == own:
        return tags
    return spans_to_tags(tags_to_spans(tags), len(tags), data)


def score_words(
    model,
    sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 32,
    max_length: int | None = None,
    stride: int | None = None,
    tokenizer=None,
    dtype=None,
) -> list[torch.Tensor | None]:
    r"""
    Log-probabilities of every label for every word of pre-tokenised sentences (read at each word's first
    sub-token; long sentences are windowed so every word is scored). `dtype` as in [`predict_entities`].

    Returns:
        `list[torch.Tensor | None]`: per sentence a `(num_words, num_labels)` tensor, `None` for an empty sentence.
    """
    tokenizer, max_length, stride = _prepare(model, tokenizer, max_length, stride, batch_size, dtype)
    items = [_Sentence(list(words), None, None) for words in sentences]
    return _word_scores(model, items, tokenizer, max_length, stride, batch_size, dtype)


def decode_tags(model, scores: list[torch.Tensor | None], *, viterbi: bool = True) -> list[list[str]]:
    """Turn `score_words` output into tags: Viterbi over valid transitions, or argmax, in the model's own scheme,
    then written in the data's scheme (see [`to_data_scheme`])."""
    labels = model.config.id2label
    return [to_data_scheme(model, [labels[i] for i in ids]) for ids in _decode(model, scores, viterbi)]


def predict_tags(
    model,
    sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 32,
    viterbi: bool = True,
    max_length: int | None = None,
    stride: int | None = None,
    tokenizer=None,
    dtype=None,
) -> list[list[str]]:
    r"""
    Tag pre-tokenised sentences: one tag per word, however long the sentence (long ones are windowed).

    Args:
        model: a token classifier whose `config.id2label` holds tags.
        sentences (`Sequence[Sequence[str]]`): the words of each sentence.
        batch_size, viterbi, max_length, stride, tokenizer, dtype: as in [`predict_entities`].

    Returns:
        `list[list[str]]`: the tags, one list per sentence, one tag per word.
    """
    scores = score_words(
        model,
        sentences,
        batch_size=batch_size,
        max_length=max_length,
        stride=stride,
        tokenizer=tokenizer,
        dtype=dtype,
    )
    return decode_tags(model, scores, viterbi=viterbi)


def predict_entities(
    model,
    inputs,
    *,
    batch_size: int = 32,
    viterbi: bool = True,
    max_length: int | None = None,
    stride: int | None = None,
    is_split_into_words: bool = False,
    tokenizer=None,
    dtype=None,
):
    r"""
    Tag text with a token-classification model whose `config.id2label` holds tags, and return entity spans.

    Args:
        model: a token classifier (`LabelSemanticsForTokenClassification` or any `*ForTokenClassification`).
        inputs (`str`, `list[str]` or `list[list[str]]`): raw text(s), or pre-tokenised sentence(s).
        batch_size (`int`, *optional*, defaults to `32`): windows per forward pass (sorted by length first).
        viterbi (`bool`, *optional*, defaults to `True`): decode with only valid tag transitions; argmax when False.
        max_length (`int`, *optional*): tokens per window; defaults to the encoder's limit.
        stride (`int`, *optional*): tokens shared by consecutive windows of a long text; defaults to a quarter of
            the window.
        is_split_into_words (`bool`, *optional*, defaults to `False`): treat a list of `str` as ONE pre-tokenised
            sentence rather than a batch of texts.
        tokenizer (*optional*): defaults to `model.tokenizer`.
        dtype (`str` or `torch.dtype`, *optional*): run the encoder in `"bfloat16"` (or `"float16"`) instead of the
            model's own precision; the label vectors and the decoding stay float32. A converted copy of the encoder
            is kept beside the model until its weights change. `"auto"` picks bfloat16 where the hardware runs it
            natively (`precision.native_bfloat16`), as `label-semantics predict` does by default. Defaults to the
            model's own precision, whose scores equal the forward pass's.

    Returns:
        For one input, a list of entity dicts (`label`, `text`, `score`, `word_start`, `word_end`, and `start` /
        `end` character offsets for raw text); for several, a list of such lists.
    """
    tokenizer, max_length, stride = _prepare(model, tokenizer, max_length, stride, batch_size, dtype)
    sentences, single = _as_sentences(inputs, tokenizer, is_split_into_words)
    all_scores = _word_scores(model, sentences, tokenizer, max_length, stride, batch_size, dtype)
    results = []
    for sentence, word_scores, tag_ids in zip(sentences, all_scores, _decode(model, all_scores, viterbi)):
        if word_scores is None:
            results.append([])
            continue
        tags = to_data_scheme(model, [model.config.id2label[i] for i in tag_ids])
        probs = word_scores.exp()
        entities = []
        for entity_type, first, last in tags_to_spans(tags):
            score = float(probs[torch.arange(first, last), tag_ids[first:last]].mean())
            entity = {"label": entity_type, "score": score, "word_start": first, "word_end": last}
            if sentence.offsets is not None:
                start, end = sentence.offsets[first][0], sentence.offsets[last - 1][1]
                entity.update(text=sentence.text[start:end], start=start, end=end)
            else:
                entity["text"] = " ".join(sentence.words[first:last])
            entities.append(entity)
        results.append(entities)
    return results[0] if single else results


def _window_limit(model, tokenizer) -> int:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    limits = [x for x in limits if isinstance(x, int) and 0 < x < 100_000]
    return min(limits) if limits else 512
