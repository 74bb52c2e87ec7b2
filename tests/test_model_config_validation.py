"""Model configs against their schema (issue 24): every key the model reads has a type and a
range, checked once where the config is read; a violation is one InputError naming the file,
the key, the value and what is expected, through the API and the command line. Keys roofprof
does not read change nothing. The run options that stand in for config keys (batch, context,
...) are checked by the same application function whatever calls it."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from roofprof.analysis import model
from roofprof.analysis.model.arch import Architecture
from roofprof.analysis.model.config_schema import fields
from roofprof.app.model import model as model_app
from roofprof.app.summary import summary
from roofprof.cli import main
from roofprof.errors import InputError, UsageError
from tests.conftest import FIXTURES, ROOT
from tests.test_validation_props import BOUNDED

LLAMA = json.loads((ROOT / "tests" / "data" / "llama_large_config.json").read_text())
AWQ = {**LLAMA, "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128}}
PRESETS = tomllib.loads((ROOT / "roofprof" / "data" / "models.toml").read_text())["model"]
NUMBERS = ["flop", "ops_tensor_int8", "weight_bytes", "kv_bytes", "act_bytes", "bytes"]


def write(folder: Path, config: Any, name: str = "config.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(config))
    return path


def numbers(arch: Architecture) -> pd.DataFrame:
    """What the model counts for ``arch``: every phase's FLOPs and bytes, per op."""
    return model.estimate(arch)[["phase", "op", *NUMBERS]]


# ------------------------------------------------------- the campaign's configs, one by one

CASES = [
    ({"num_attention_heads": 0}, "num_attention_heads must be a positive integer, got 0"),
    ({"hidden_size": "abc"}, 'hidden_size must be a positive integer, got "abc"'),
    ({"hidden_size": None}, "hidden_size must be a positive integer, got null"),
    ({"hidden_size": math.nan}, "hidden_size must be a positive integer, got NaN"),
    ({"hidden_size": math.inf}, "hidden_size must be a positive integer, got Infinity"),
    ({"hidden_size": 2048.0}, "hidden_size must be a positive integer, got 2048.0"),
    ({"hidden_size": True}, "hidden_size must be a positive integer, got true"),
    ({"hidden_size": [2048]}, "hidden_size must be a positive integer, got a list"),
    ({"hidden_size": 2**40}, "hidden_size must be a positive integer of at most 2147483647, "
                             "got 1099511627776"),
    ({"num_hidden_layers": -2}, "num_hidden_layers must be a positive integer, got -2"),
    ({"vocab_size": -8000}, "vocab_size must be a positive integer, got -8000"),
    ({"intermediate_size": -5}, "intermediate_size must be a positive integer, got -5"),
    ({"sliding_window": -5}, "sliding_window must be a positive integer or null, got -5"),
    ({"sliding_window": "abc"}, 'sliding_window must be a positive integer or null, got "abc"'),
    ({"use_sliding_window": "no"}, 'use_sliding_window must be true, false or null, got "no"'),
    ({"head_dim": 0}, "head_dim must be a positive integer, got 0"),
    ({"num_key_value_heads": 0}, "num_key_value_heads must be a positive integer, got 0"),
    ({"num_key_value_heads": 3}, "num_key_value_heads must divide num_attention_heads (16), "
                                 "got 3"),
    ({"head_dim": None, "num_attention_heads": 12, "num_key_value_heads": 4},
     "hidden_size 2048 is not a multiple of num_attention_heads 12, and no head_dim is given"),
    ({"tie_word_embeddings": "false"}, 'tie_word_embeddings must be true, false or null, got '
                                       '"false"'),
    ({"_name_or_path": 7}, "_name_or_path must be a string or null, got 7"),
    ({"quantization_config": "awq"}, 'quantization_config must be an object (quant_method, '
                                     'bits, group_size) or null, got "awq"'),
    ({"quantization_config": {"quant_method": "awq", "bits": "four"}},
     'quantization_config.bits must be 4 or 8, got "four"'),
    ({"quantization_config": {"quant_method": "gptq", "bits": 3}},
     "quantization_config.bits must be 4 or 8, got 3"),
    ({"quantization_config": {"w_bit": 2.5}}, "quantization_config.w_bit must be 4 or 8, got 2.5"),
    ({"quantization_config": {"quant_method": "gptq"}},
     "quantization_config gives no bits: roofprof needs the weights' width (4 or 8)"),
    ({"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 0}},
     "quantization_config.group_size must be a positive integer, -1 (one scale per output "
     "channel) or null, got 0"),
    ({"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True}},
     'quantization_config.quant_method must be one roofprof models (awq, gptq, fp8, '
     'fbgemm_fp8), got "bitsandbytes"; remove quantization_config and give the weights\' '
     'dtype (weight_dtype)'),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_each_violation_is_one_error_naming_the_file_key_and_value(
        tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = write(tmp_path, {**LLAMA, **change})
    with pytest.raises(InputError) as caught:
        model.from_config(path)
    assert str(caught.value) == f"{path}: {message}"
    # the command line: the same one line (options named as flags), exit 2, nothing printed
    out = CliRunner().invoke(main, ["model", str(path), "--gpu", "H100"])
    assert out.exit_code == 2
    assert out.stdout == ""
    assert out.stderr == (f"roofprof: error: {path}: "
                          f"{message.replace('(weight_dtype)', '(--weight-dtype)')}\n")


def test_heads_zero_with_a_head_dim_is_no_longer_2_gflop(tmp_path: Path) -> None:
    path = write(tmp_path, {**LLAMA, "num_attention_heads": 0, "head_dim": 128})
    with pytest.raises(InputError, match=r"num_attention_heads must be a positive integer, "
                                         r"got 0$"):
        model.from_config(path)


def test_a_config_without_a_required_key_says_which(tmp_path: Path) -> None:
    path = write(tmp_path, {k: v for k, v in LLAMA.items()
                            if k not in ("vocab_size", "num_hidden_layers")})
    with pytest.raises(InputError) as caught:
        model.from_config(path)
    assert str(caught.value) == (f"{path} lacks num_hidden_layers, vocab_size: roofprof's "
                                 "model needs a Llama/Mistral-style decoder config")


@pytest.mark.parametrize(("content", "message"), [
    (b'{"hidden_size": "\xff"}', "{p}: not UTF-8 text (invalid start byte); pass a Hugging "
                                 "Face config.json"),
    (b"[" * 100_000, "{p}: JSON nested too deeply to be a model config; pass a Hugging Face "
                     "config.json"),
    (b'{"hidden_size": 2048, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "{p}: JSON nested too deeply to be a model config; pass a Hugging Face config.json"),
    (b'{"hidden_size": ' + b"9" * 5000 + b"}",
     "{p}: a number in it has too many digits to be read; pass a Hugging Face config.json"),
    (b"[1, 2]", "{p} is not a Hugging Face config (a JSON object)"),
    (b'"config"', "{p} is not a Hugging Face config (a JSON object)"),
    (b"{", "{p} is not JSON (Expecting property name enclosed in double quotes: line 1 column "
           "2 (char 1)); pass a Hugging Face config.json"),
    (b"", "{p} is not JSON (Expecting value: line 1 column 1 (char 0)); pass a Hugging Face "
          "config.json"),
])
def test_a_file_that_is_no_json_object_is_one_error(tmp_path: Path, content: bytes,
                                                    message: str) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        model.architecture(path)
    assert str(caught.value) == message.format(p=path)
    out = CliRunner().invoke(main, ["model", str(path)])
    assert (out.exit_code, out.stderr) == (2, f"roofprof: error: {message.format(p=path)}\n")


def test_a_file_too_large_to_be_a_config_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as f:
        f.truncate(16 * 2**20 + 1)
    with pytest.raises(InputError) as caught:
        model.from_config(path)
    assert str(caught.value) == (f"{path} holds 16,777,217 bytes: too large to be a model "
                                 "config; pass a Hugging Face config.json")


def test_a_spec_no_path_can_be_is_neither_preset_nor_file() -> None:
    with pytest.raises(UsageError, match=r"^'a\\x00b' is neither a preset \(Llama-2-7B, "):
        model.architecture("a\x00b")
    with pytest.raises(UsageError) as caught:
        model.architecture("a" * 5000)
    assert str(caught.value).startswith("'" + "a" * 55 + "...' is neither a preset (")


# ------------------------------------------------------------------- what the schema keeps


def test_quantization_configs_roofprof_models(tmp_path: Path) -> None:
    def read(quant: dict[str, Any]) -> tuple[str | None, int | None]:
        arch = model.from_config(write(tmp_path, {**LLAMA, "quantization_config": quant}))
        return arch.quant_dtype, arch.quant_group_size

    assert read({"quant_method": "awq", "bits": 4, "group_size": 128}) == ("int4", 128)
    assert read({"quant_method": "gptq", "bits": 8, "group_size": -1}) == ("int8", None)
    assert read({"w_bit": 4, "q_group_size": 64, "version": "GEMM"}) == ("int4", 64)
    assert read({"quant_method": "fp8", "weight_block_size": [128, 128]}) == ("fp8", None)
    assert read({"quant_method": "fbgemm_fp8"}) == ("fp8", None)
    # the config's quantization is the weights' dtype unless the run says otherwise
    arch = model.from_config(write(tmp_path, AWQ))
    assert model.options_for(arch).weight_dtype == "int4"
    assert model.options_for(arch, weight_dtype="bf16").weight_dtype == "bf16"


def test_nulls_mean_the_defaults_and_use_sliding_window_false_turns_it_off(
        tmp_path: Path) -> None:
    clean = model.from_config(write(tmp_path, LLAMA))
    nulls = model.from_config(write(tmp_path, {
        **LLAMA, "num_key_value_heads": None, "head_dim": None, "sliding_window": None,
        "tie_word_embeddings": None, "quantization_config": None, "_name_or_path": None}))
    assert (nulls.num_kv_heads, nulls.head_dim, nulls.sliding_window, nulls.quant_dtype,
            nulls.tie_word_embeddings, nulls.name) == (16, 128, None, None, False, tmp_path.name)
    assert clean.num_kv_heads == 4
    qwen = model.from_config(write(tmp_path, {**LLAMA, "sliding_window": 4096,
                                              "use_sliding_window": False}))
    assert qwen.sliding_window is None
    mistral = model.from_config(write(tmp_path, {**LLAMA, "sliding_window": 4096,
                                                 "use_sliding_window": True}))
    assert mistral.sliding_window == 4096


def test_keys_roofprof_does_not_read_change_nothing(tmp_path: Path) -> None:
    clean = model.from_config(write(tmp_path, LLAMA))
    noisy = model.from_config(write(tmp_path, {
        **LLAMA, "torch_dtype": 5, "rope_theta": math.nan, "rope_scaling": "abc",
        "max_position_embeddings": -1, "architectures": {"a": [None]}, "bos_token_id": "x"}))
    assert noisy == clean
    pd.testing.assert_frame_equal(numbers(noisy), numbers(clean))


def test_every_bundled_preset_passes_the_schema() -> None:
    assert len(PRESETS) == len(model.presets()) == 7
    for raw, arch in zip(PRESETS, model.presets(), strict=True):
        assert Architecture(name=raw["name"], **fields(raw, raw["name"])) == arch
        df = numbers(arch)
        assert (df[NUMBERS] >= 0).all().all()
        assert (df["flop"] > 0).any()
        assert arch.parameters() > 10**9


def test_an_architecture_built_in_python_follows_the_same_rules() -> None:
    with pytest.raises(UsageError) as caught:
        Architecture("mine", 512, 1344, 2, 0, 2, 8000, 64)
    assert str(caught.value) == "architecture 'mine': num_heads must be a positive integer, got 0"
    with pytest.raises(UsageError, match=r"^architecture 'mine': num_kv_heads must divide "
                                         r"num_heads \(8\), got 3$"):
        Architecture("mine", 512, 1344, 2, 8, 3, 8000, 64)
    with pytest.raises(UsageError, match=r"sliding_window must be a positive integer or null, "
                                         r"got -5$"):
        Architecture("mine", 512, 1344, 2, 8, 2, 8000, 64, sliding_window=-5)
    with pytest.raises(UsageError, match=r"quant_dtype must be one of int4, int8, fp8 or None, "
                                         r"got 'int3'$"):
        Architecture("mine", 512, 1344, 2, 8, 2, 8000, 64, quant_dtype="int3")


# ------------------------------------------------------------- the run options, any caller


@pytest.mark.parametrize(("run", "message"), [
    ({"batch": 0}, "batch must be at least 1, got 0"),
    ({"batch": "abc"}, "batch must be an integer, got 'abc'"),
    ({"batch": 1.5}, "batch must be an integer, got 1.5"),
    ({"batch": math.nan}, "batch must be an integer, got nan"),
    ({"batch": True}, "batch must be an integer, got True"),
    ({"prompt": -1}, "prompt must be at least 1, got -1"),
    ({"context": -5}, "context must be at least 0, got -5"),
    ({"spec_tokens": 0}, "spec_tokens must be at least 1, got 0"),
    ({"tp": 2**31}, "tp must be at most 2147483647, got 2147483648"),
    ({"group_size": 0}, "group_size must be at least 1, got 0"),
    ({"non_causal": "yes"}, "non_causal must be True or False, got 'yes'"),
    ({"weight_dtype": "int3"}, "unknown weight dtype 'int3'; choose one of bf16, fp16, fp8, "
                               "int8, int4"),
])
def test_run_options_are_checked_by_the_application_function(run: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(UsageError) as caught:
        model_app("Llama-3-8B", gpu="H100", **run)
    assert str(caught.value) == message
    # summary --model checks them before reading the trace
    with pytest.raises(UsageError) as caught:
        summary(FIXTURES / "no-such-trace.ncu-rep", model="Llama-3-8B", **run)
    assert str(caught.value) == message


def test_the_command_line_names_the_flag() -> None:
    out = CliRunner().invoke(main, ["model", "Llama-3-8B", "--batch", "3000000000"])
    assert (out.exit_code, out.stderr) == (
        2, "roofprof: error: --batch must be at most 2147483647, got 3000000000\n")
    out = CliRunner().invoke(main, ["summary", str(FIXTURES / "llama_annotated.ncu-rep"),
                                    "--model", "Llama-3-8B", "--context", "-5"])
    assert out.exit_code == 2
    assert "Invalid value for '--context': -5 is not in the range x>=0." in out.stderr


def test_a_bad_config_stops_summary_and_report_too(tmp_path: Path) -> None:
    path = write(tmp_path, {**LLAMA, "vocab_size": -8000})
    expected = f"roofprof: error: {path}: vocab_size must be a positive integer, got -8000\n"
    rep = str(FIXTURES / "llama_annotated.ncu-rep")
    for argv in (["summary", rep, "--model", str(path)],
                 ["report", rep, "--model", str(path), "-o", str(tmp_path / "r.md")]):
        out = CliRunner().invoke(main, argv)
        assert (out.exit_code, out.stderr) == (2, expected), argv
    assert not (tmp_path / "r.md").exists()


# ------------------------------------------------------------------------ hostile values

#: JSON values no key roofprof reads takes as written (a few are valid for some keys: null
#: for the optional ones, a positive count): the property below allows exactly that
HOSTILE = st.one_of(
    st.sampled_from([0, -1, -2, -5, -8000, None, "", "abc", "4096", "four", "awq", True,
                     False, math.nan, math.inf, -math.inf, 1.5, 2048.0, 2**31, 10**30, [],
                     {}, [16], {"quant_method": "awq"}, {"bits": None}, "\u22125"]),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.recursive(st.none() | st.integers(), lambda inner: st.lists(inner, max_size=2) |
                 st.dictionaries(st.text(max_size=3), inner, max_size=2), max_leaves=6),
)
BASES = {"llama": LLAMA, "awq": AWQ, **{
    p["name"]: {k: v for k, v in p.items() if k not in ("name", "source")} for p in PRESETS}}
#: keys roofprof reads, and where (a dotted key: inside quantization_config)
READ = {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "vocab_size", "head_dim", "tie_word_embeddings",
        "sliding_window", "use_sliding_window", "_name_or_path", "quantization_config",
        "quantization_config.quant_method", "quantization_config.bits",
        "quantization_config.w_bit", "quantization_config.group_size",
        "quantization_config.q_group_size"}
KEYS = sorted(READ | {"torch_dtype", "rope_theta", "rope_scaling", "architectures",
                      "model_type", "max_position_embeddings", "unknown_key",
                      "quantization_config.zero_point", "quantization_config.version"})


def mutated(base: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    config = json.loads(json.dumps(base))
    if "." in key:
        outer, inner = key.split(".")
        quant = config.get(outer)
        config[outer] = {**(quant if isinstance(quant, dict) else {}), inner: value}
    else:
        config[key] = value
    return config


def read_or_refuse(path: Path) -> Architecture | InputError:
    """The architecture of ``path``, or the one error refusing it."""
    try:
        return model.from_config(path)
    except InputError as exc:
        return exc


@BOUNDED
@given(base=st.sampled_from(sorted(BASES)), key=st.sampled_from(KEYS), value=HOSTILE)
def test_hostile_values_are_one_error_naming_the_key_or_change_nothing(
        base: str, key: str, value: Any) -> None:
    """A real config with one key set to a hostile JSON value: one InputError naming the file
    and that key, or (a key roofprof does not read, or a value the key allows) a model whose
    every FLOP and byte count is finite and not negative; the same numbers as the clean
    config where roofprof does not read the key. Never a traceback."""
    if "." in key and "quantization_config" not in BASES[base]:
        base = "awq"                  # a key inside quantization_config: a config with one
    config = mutated(BASES[base], key, value)
    with TemporaryDirectory() as tmp:
        path = write(Path(tmp), config)
        clean = model.from_config(write(Path(tmp), BASES[base], "clean.json"))
        arch = read_or_refuse(path)
    if isinstance(arch, InputError):
        message = str(arch)
        assert key in READ, (key, message)
        assert message.startswith(str(path))
        outer, _, inner = key.partition(".")
        assert (inner or outer) in message, message
        return
    df = numbers(arch)
    values = df[NUMBERS].to_numpy(dtype=float)
    assert np.isfinite(values).all(), (key, value)
    assert (values >= 0).all(), (key, value)
    assert arch.parameters() > 0
    if key not in READ:
        assert arch == replace(clean, name=arch.name)
        pd.testing.assert_frame_equal(df, numbers(clean))
