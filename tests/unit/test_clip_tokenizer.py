"""CLIP BPE tokenizer: known ids, truncation rules, decoding, bad input (no MegEngine needed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ftfy")
pytest.importorskip("regex")

from megforge.errors import InvalidArgumentError, InvalidTypeError  # noqa: E402
from megforge.models.clip.tokenizer import byte_alphabet, default_tokenizer, tokenize  # noqa: E402

SOT, EOT = 49406, 49407


def test_vocabulary_layout() -> None:
    tok = default_tokenizer()
    assert len(tok.encoder) == 49408
    assert (tok.sot_token, tok.eot_token) == (SOT, EOT)
    alphabet = byte_alphabet()
    assert len(set(alphabet.values())) == 256 and list(alphabet)[:3] == [33, 34, 35]  # printable bytes first
    assert alphabet[ord(" ")] == "Ġ" and alphabet[0] == "Ā"
    assert tok.encoder["a</w>"] == 256 + list(alphabet).index(ord("a"))


def test_known_ids() -> None:
    # ids of openai/CLIP's tokenizer for these phrases
    assert tokenize("a photo of a cat")[0, :7].tolist() == [SOT, 320, 1125, 539, 320, 2368, EOT]
    assert tokenize("a diagram")[0, :4].tolist() == [SOT, 320, 22697, EOT]
    ids = tokenize(["Hello, World!!!", "HELLO,   world!!!"])
    np.testing.assert_array_equal(ids[0], ids[1])  # lower case, whitespace collapsed
    assert ids.dtype == np.int64 and ids.shape == (2, 77)


def test_cleaning_html_unicode_and_specials() -> None:
    tok = default_tokenizer()
    assert tok.clean("  &amp;lt;b&amp;gt; Caf\u00e9   NAÏVE\n") == "<b> café naïve"
    assert tok.encode("<|endoftext|>") == [EOT]
    assert tok.decode(tok.encode("emoji 🐱 ok")) == "emoji 🐱 ok "
    assert tok.decode(tok.encode("東京 naïve")) == "東京 naïve "


def test_over_long_text_raises_or_truncates() -> None:
    text = "word " * 100
    with pytest.raises(InvalidArgumentError, match="too long for context length 77"):
        tokenize(text)
    with pytest.raises(InvalidArgumentError, match="truncate=True"):
        tokenize(["fine", text])
    cut = tokenize(text, truncate=True)[0]
    assert cut[0] == SOT and cut[-1] == EOT and (cut[1:-1] == cut[1]).all()
    exact = tokenize("a " * 75)[0]  # 75 words + start + end = 77: fits exactly
    assert exact[-1] == EOT and tokenize("a " * 75, context_length=77, truncate=True).tolist()[0] == exact.tolist()
    short = tokenize("a photo of a cat", context_length=5, truncate=True)[0]
    assert short.tolist() == [SOT, 320, 1125, 539, EOT]


def test_huge_text_fails_fast() -> None:
    with pytest.raises(InvalidArgumentError, match="too long"):
        tokenize("lorem ipsum " * 200_000)  # stops encoding once over the context


def test_bad_arguments() -> None:
    with pytest.raises(InvalidTypeError):
        tokenize(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidTypeError):
        tokenize(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="context_length"):
        tokenize("x", context_length=1)
    assert tokenize([]).shape == (0, 77)
