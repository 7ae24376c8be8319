"""Import shims that let taming-transformers and dalle-pytorch import in the refs env.

* ``taming.main`` imports torchvision, which does not work here (CUDA build / absent) and is
  not needed by the models (LPIPS only names ``torchvision.models`` at import): empty
  stand-in modules are registered.
* ``pytorch_lightning.utilities.distributed.rank_zero_only`` was removed from Lightning 2.x:
  an alias module pointing at ``pytorch_lightning.utilities.rank_zero_only`` is registered.

Call :func:`install` before importing ``taming`` or ``dalle_pytorch``.
"""

from __future__ import annotations

import sys
import types
import warnings


def install() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # Lightning probes for torchvision with find_spec at import: import it before the stand-in
    import pytorch_lightning.utilities as plu

    if "torchvision" not in sys.modules:
        tv = types.ModuleType("torchvision")
        tv.models = types.ModuleType("torchvision.models")  # type: ignore[attr-defined]
        sys.modules["torchvision"] = tv
        sys.modules["torchvision.models"] = tv.models  # type: ignore[attr-defined]
    name = "pytorch_lightning.utilities.distributed"
    if name not in sys.modules:
        alias = types.ModuleType(name)
        alias.rank_zero_only = plu.rank_zero_only  # type: ignore[attr-defined]
        sys.modules[name] = alias


def install_tokenizer_stubs() -> None:
    """Let ``dalle_pytorch.tokenizer`` import without youtokentome / tokenizers / transformers.

    Those back its alternative tokenizers only; its default ``SimpleTokenizer`` (CLIP BPE)
    needs none of them. The stand-ins expose just the names imported at module level.
    """
    names = {"youtokentome": {}, "tokenizers": {"Tokenizer": object},
             "tokenizers.processors": {"ByteLevel": object}, "transformers": {"BertTokenizer": object}}
    for name, attrs in names.items():
        if name in sys.modules:
            continue
        try:
            __import__(name)
        except ImportError:
            module = types.ModuleType(name)
            module.__dict__.update(attrs)
            sys.modules[name] = module
