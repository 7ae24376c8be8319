"""CLIP's byte-level BPE tokenizer (same ids as openai/CLIP's ``clip.tokenize``).

Pipeline (facts of the reference): ``ftfy.fix_text`` -> HTML-unescape twice -> collapse
whitespace -> lower-case -> split into words (special tokens, English contractions,
letter runs, single digits, punctuation runs) -> map each UTF-8 byte to a printable
character -> BPE with the first 48 894 merges of ``bpe_simple_vocab_16e6.txt.gz``.
Vocabulary: 256 byte characters, the same with ``</w>``, the merges, then
``<|startoftext|>`` (49406) and ``<|endoftext|>`` (49407).

The vocabulary ships as package data: OpenAI's file, unmodified, under its MIT licence
(``LICENSE-bpe-vocab.txt`` beside it). Needs ``ftfy`` and ``regex`` (``megforge[models]``).
"""

from __future__ import annotations

import gzip
import html
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from megforge.errors import InvalidArgumentError, InvalidTypeError

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
N_MERGES = 49152 - 256 - 2  # merges used by CLIP: lines 1..48894 of the vocabulary file
START, END = "<|startoftext|>", "<|endoftext|>"
# word splitting: special tokens, contractions, letter runs, one digit, runs of anything else but spaces
WORD_PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
                r"|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")


@lru_cache(maxsize=1)
def byte_alphabet() -> dict[int, str]:
    """UTF-8 byte -> printable character: printable Latin-1 bytes map to themselves, the
    other 68 bytes (controls, space, soft hyphen ...) to U+0100.. in byte order.

    The dict's order is the vocabulary's: the printable bytes first, then the others
    (so ``a`` is id 64 and ``a</w>`` id 320, as in the reference)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + i) for i, b in enumerate(others)})
    return table


class SimpleTokenizer:
    """Text <-> CLIP BPE token ids. ``bpe_path`` defaults to the shipped vocabulary."""

    def __init__(self, bpe_path: str | Path | None = None) -> None:
        try:
            import ftfy
            import regex
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("the CLIP tokenizer needs ftfy and regex: pip install 'megforge[models]'") from exc
        self._fix_text = ftfy.fix_text
        self._words = regex.compile(WORD_PATTERN, regex.IGNORECASE)
        self._spaces = regex.compile(r"\s+")
        if bpe_path is None:
            data = resources.files("megforge.models.clip").joinpath(VOCAB_FILE).read_bytes()
        else:
            data = Path(bpe_path).read_bytes()
        lines = gzip.decompress(data).decode("utf-8").split("\n")[1:N_MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        self.byte_encoder = byte_alphabet()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        vocab = list(self.byte_encoder.values())
        vocab += [c + "</w>" for c in vocab] + ["".join(m) for m in merges] + [START, END]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.decoder = dict(enumerate(vocab))
        self.bpe_ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.sot_token, self.eot_token = self.encoder[START], self.encoder[END]
        self._cache: dict[str, tuple[str, ...]] = {START: (START,), END: (END,)}

    def clean(self, text: str) -> str:
        """The reference's normalisation: ftfy, double HTML unescape, whitespace collapse, lower case."""
        text = html.unescape(html.unescape(self._fix_text(text))).strip()
        return self._spaces.sub(" ", text).strip().lower()

    def words(self, text: str) -> list[str]:
        """Split cleaned text into BPE words (each as byte-alphabet characters)."""
        return ["".join(self.byte_encoder[b] for b in w.encode("utf-8")) for w in self._words.findall(text)]

    def bpe(self, word: str) -> tuple[str, ...]:
        """Merge ``word`` (byte-alphabet characters) into vocabulary tokens, lowest merge rank first."""
        if word in self._cache:
            return self._cache[word]
        symbols = [*word[:-1], word[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = set(zip(symbols, symbols[1:]))
            first, second = min(pairs, key=lambda p: self.bpe_ranks.get(p, N_MERGES))
            if (first, second) not in self.bpe_ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(symbols):  # merge every occurrence, left to right
                if i + 1 < len(symbols) and symbols[i] == first and symbols[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        if len(self._cache) > 100_000:
            self._cache = {START: (START,), END: (END,)}
        self._cache[word] = result = tuple(symbols)
        return result

    def encode(self, text: str, limit: int | None = None) -> list[int]:
        """Token ids of ``text`` without start/end tokens; stops once more than ``limit`` ids are found."""
        ids: list[int] = []
        for word in self.words(self.clean(text)):
            ids.extend(self.encoder[token] for token in self.bpe(word))
            if limit is not None and len(ids) > limit:
                break
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids -> text (``</w>`` becomes a space; invalid UTF-8 is replaced)."""
        text = "".join(self.decoder[int(i)] for i in ids)
        data = bytearray(self.byte_decoder[c] for c in text)
        return data.decode("utf-8", errors="replace").replace("</w>", " ")


@lru_cache(maxsize=1)
def default_tokenizer() -> SimpleTokenizer:
    return SimpleTokenizer()


def tokenize(texts: str | Sequence[str], context_length: int = 77, truncate: bool = False) -> np.ndarray:
    """Token ids ``int64 (len(texts), context_length)``: start token, text, end token, zero padding.

    A text longer than the context raises InvalidArgumentError naming it, unless
    ``truncate``: then the first ``context_length`` ids are kept and the last becomes the
    end token (as the reference).
    """
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        raise InvalidTypeError("texts must be a string or a sequence of strings")
    if not isinstance(context_length, int) or context_length < 2:
        raise InvalidArgumentError(f"context_length must be an int >= 2, got {context_length!r}")
    tokenizer = default_tokenizer()
    result = np.zeros((len(texts), context_length), dtype=np.int64)
    for row, text in enumerate(texts):
        ids = [tokenizer.sot_token, *tokenizer.encode(text, limit=context_length), tokenizer.eot_token]
        if len(ids) > context_length:
            if not truncate:
                shown = text if len(text) <= 60 else text[:57] + "..."
                raise InvalidArgumentError(f"text {shown!r} is too long for context length {context_length} "
                                           f"(pass truncate=True to cut it)")
            ids = ids[:context_length]
            ids[-1] = tokenizer.eot_token
        result[row, :len(ids)] = ids
    return result
