"""LLM attribution: phase rules against the engines' real range names, category rules on every
kernel of the fixtures, op rules on module paths, user rules, bad rules files, golden summaries
by phase and category, and the CLI surface (summary/plot --by, --sweep, --rules)."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import roofprof
from roofprof.analysis import roofline as rl
from roofprof.cli import main
from roofprof.errors import InputError
from roofprof.inputs import attribution as A
from roofprof.inputs.load import convert
from roofprof.tables.kernels import Trace, write_parquet
from roofprof.tables.schema import COLUMNS
from roofprof.tables.stored import META_KEY
from roofprof.views import tables as tb
from tests import _synth
from tests.conftest import FIXTURES, load_fixture
from tests.test_bad_input import assert_one_clear_error
from tests.test_roofline import _check_golden

# ------------------------------------------------------------------------------- phases

# The engines' range names, as their code formats them (the strings are facts):
#  vLLM v1 GPUWorker.annotate_profile:
#    "execute_context_" + n_ctx_reqs + "(" + n_ctx_tokens + ")_generation_" + n_gen_reqs + "(" +
#    n_gen_tokens + ")"; older v1: f"execute_new_{num_new}_cached_{num_cached}"
#  TensorRT-LLM PyExecutor._forward_step:
#    f"[Executor] _forward_step {iter}: {n_ctx} ctx reqs, {n_gen} gen reqs"
#    (some versions: "..., {t} ctx tokens, {n_gen} gen reqs"; early ones: "_forward_step: ...")
#  TensorRT-LLM C++ TrtGptModelInflightBatching::executeStep:
#    "executeStep: " + n_ctx + " ctx reqs, " + n_gen + " gen reqs"
#  SGLang ModelRunner.forward step spans: "step[DECODE bs=4]", "step[EXTEND bs=1 toks=107]",
#    "step[MIXED bs=2]", "step[TARGET_VERIFY bs=8]", "step[DRAFT_EXTEND_V2 bs=1]"; an earlier
#    form "step[decode bs=N]", "step[prefill bs=N toks=T]", "step[mixed bs=N ext=T dec=D]";
#    ForwardMode names EXTEND / DECODE / MIXED
ENGINE_RANGES = [
    ("execute_context_1(8192)_generation_0(0)", "prefill"),
    ("execute_context_0(0)_generation_128(128)", "decode"),
    ("execute_context_3(1264)_generation_1(1)", "mixed"),
    ("execute_context_0(0)_generation_32(128)", "spec"),  # 3 draft tokens per request
    ("execute_context_0(0)_generation_0(0)", "other"),     # a DP dummy step
    ("execute_1_context_3(sq128sk256sqsq1sqsk1)_generation_2(sq1sk300sqsq1sqsk1)", "mixed"),
    ("execute_new_4_cached_0", "prefill"),
    ("execute_new_0_cached_64", "decode"),
    ("execute_new_2_cached_30", "mixed"),
    ("[Executor] _forward_step 17: 4 ctx reqs, 0 gen reqs", "prefill"),
    ("[Executor] _forward_step 18: 0 ctx reqs, 64 gen reqs", "decode"),
    ("[Executor] _forward_step 19: 2 ctx reqs, 62 gen reqs", "mixed"),
    ("[Executor] _forward_step 60000: 0 ctx reqs, 0 ctx tokens, 32 gen reqs", "decode"),
    ("[Executor] _forward_step 7: 1 ctx reqs, 512 ctx tokens, 3 gen reqs", "mixed"),
    ("_forward_step: 1 ctx reqs, 0 gen reqs", "prefill"),
    ("executeStep: 0 ctx reqs, 16 gen reqs", "decode"),
    ("executeStep: 2 ctx reqs, 16 gen reqs", "mixed"),
    ("step[DECODE bs=4]", "decode"),
    ("step[EXTEND bs=1 toks=107]", "prefill"),
    ("step[MIXED bs=2]", "mixed"),
    ("step[TARGET_VERIFY bs=8]", "spec"),
    ("step[DRAFT_EXTEND_V2 bs=1]", "spec"),
    ("step[IDLE]", "other"),
    ("step[decode bs=16]", "decode"),
    ("step[prefill bs=2 toks=4096]", "prefill"),
    ("step[mixed bs=3 ext=512 dec=2]", "mixed"),
    ("EXTEND", "prefill"),
    ("DECODE", "decode"),
    ("MIXED", "mixed"),
    ("ForwardMode.TARGET_VERIFY", "spec"),
    ("forward_extend", "prefill"),
    ("forward_decode", "decode"),
]

PLAIN_RANGES = [
    ("prefill", "prefill"), ("Prefill", "prefill"), ("prefill_0", "prefill"),
    ("prefill[bs=4]", "prefill"), ("context", "prefill"), ("prompt", "prefill"),
    ("decode", "decode"), ("decode_3", "decode"), ("decode 12", "decode"),
    ("generate", "decode"), ("generation", "decode"), ("mixed", "mixed"),
    ("spec", "spec"), ("spec_verify", "spec"), ("verify", "spec"), ("draft", "spec"),
    # look-alikes are not phases
    ("decoder", "other"), ("context_parallel", "other"), ("general", "other"),
    ("model.layers.0.self_attn", "other"), ("", "other"),
]


@pytest.mark.parametrize(("name", "phase"), ENGINE_RANGES + PLAIN_RANGES)
def test_phase_of_one_range(name: str, phase: str) -> None:
    assert A.phase_of([name] if name else []) == phase


def test_innermost_phase_range_wins() -> None:
    assert A.phase_of(["generate", "prefill", "model.layers.0.mlp"]) == "prefill"
    assert A.phase_of(["generate", "decode_1", "model.layers.0.mlp"]) == "decode"
    assert A.phase_of(["spec_verify", "16"]) == "spec"
    assert A.phase_of(["serve", "step[DECODE bs=4]", "LlamaForCausalLM", "model"]) == "decode"
    assert A.phase_of([]) == "other"


def test_roofprof_phase_is_a_checked_range_named_by_the_phase(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import nvtx

    pushed: list[str] = []
    monkeypatch.setattr(nvtx, "push_range", lambda message=None, **kw: pushed.append(message))
    monkeypatch.setattr(nvtx, "pop_range", lambda **kw: None)
    for p in A.PHASES:
        with roofprof.phase(p):
            pass
    assert pushed == list(A.PHASES)
    assert all(A.phase_of([p]) == p for p in pushed)
    with pytest.raises(ValueError, match="unknown phase 'prefil'"):
        roofprof.phase("prefil")


# --------------------------------------------------------------------------- categories

#: function-name patterns of every kernel in the fixtures -> category
FIXTURE_CATEGORIES = [
    ("nvjet_", "gemm"),
    ("xmma_gemm", "gemm"),
    ("Kernel2", "gemm"),  # cutlass::Kernel2<cutlass_80_simt_sgemm_...> / ..._i161616gemm_...
    ("cudnn_generated_fort_native_sdpa", "attention"),
    ("lean_reduction_kernel", "attention"),  # cuDNN's split-KV combine at decode
    ("splitKreduce_kernel", "gemm"),
    ("softmax_warp_forward", "reduce"),  # eager attention
    ("CatArrayBatchedCopy", "copy"),
    ("indexSelectSmallIndex", "embedding"),
    ("vectorized_gather_kernel", "embedding"),
    ("reduce_kernel", "reduce"),  # RMSNorm's mean of squares (at::MeanOps)
    ("elementwise_kernel_with_index", "elementwise"),  # arange
]


def _fixture_kernels() -> pd.DataFrame:
    rows = []
    for name in ("known_work.ncu-rep", "llama_small.ncu-rep", "llama_annotated.ncu-rep",
                 "llama_eager.ncu-rep", "spec_verify.ncu-rep"):
        k = load_fixture(name).kernels
        rows.append(k[["kernel", "kernel_demangled", "category"]])
    return pd.concat(rows, ignore_index=True).drop_duplicates()


def _expected(kernel: str, demangled: str) -> str:
    for pattern, category in FIXTURE_CATEGORIES:
        if pattern in kernel:
            return category
    # PyTorch TensorIterator kernels: the functor in the demangled name decides
    if "silu_kernel" in demangled:
        return "activation"
    if "copy_kernel" in demangled or "FillFunctor" in demangled:
        return "copy"
    assert "elementwise_kernel" in kernel, kernel
    return "elementwise"


def test_every_fixture_kernel_gets_its_category() -> None:
    k = _fixture_kernels()
    assert len(k) >= 25
    for row in k.itertuples():
        want = _expected(str(row.kernel), str(row.kernel_demangled))
        assert row.category == want, (row.kernel, row.kernel_demangled)
        assert A.category_of(str(row.kernel), str(row.kernel_demangled)) == want


def test_category_rules_read_the_demangled_names_of_csv_exports() -> None:
    """ncu's CSV "Kernel Name" column is the demangled name: it alone must be enough."""
    seen = 0
    for name in ("known_work_raw.csv", "llama_small_raw.csv"):
        with open(FIXTURES / name, newline="") as fh:
            for row in csv.DictReader(fh):
                demangled = row.get("Kernel Name") or ""
                if not demangled or demangled == "Kernel Name" or demangled.startswith("("):
                    continue
                seen += 1
                assert A.category_of(None, demangled) != "other", demangled
    assert seen > 100
    assert A.category_of(None, "void cutlass::Kernel2<cutlass_80_simt_sgemm_256x128_8x4_nn_"
                               "align1>(T1::Params)") == "gemm"
    assert A.category_of(None, "void cutlass::Kernel2<cutlass_80_wmma_tensorop_i161616gemm_s8_"
                               "forwardCompat_128x128_32x2_nn_align4>(T1::Params)") == "gemm"


def test_llama_fixture_separates_the_families() -> None:
    k = load_fixture("llama_small.ncu-rep").kernels
    cats = set(k["category"])
    assert {"gemm", "attention", "elementwise", "activation", "reduce", "copy",
            "embedding"} <= cats
    assert "other" not in cats
    assert set(k["phase"]) == {"prefill", "decode"}
    assert k["op"].isna().all()  # no layer-wise ranges in this capture


@pytest.mark.parametrize(("kernel", "category"), [
    ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "communication"),
    ("cross_device_reduce_2stage", "communication"),
    ("flash_fwd_splitkv_kernel", "attention"),
    ("fmha_cutlassF_bf16_aligned_64x64_rf_sm80", "attention"),
    ("paged_attention_v2_kernel", "attention"),
    ("reshape_and_cache_flash_kernel", "attention"),
    ("ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_64x3_tn", "gemm"),
    ("cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_64x64_32x6_tn_align8", "gemm"),
    ("gemv2T_kernel_val", "gemm"),
    ("splitKreduce_kernel", "gemm"),
    ("rms_norm_kernel", "norm"),
    ("fused_add_rms_norm_kernel", "norm"),
    ("vectorized_layer_norm_kernel", "norm"),
    ("act_and_mul_kernel", "activation"),
    ("gelu_and_mul_kernel", "activation"),
    ("cunn_SoftMaxForward", "reduce"),
    ("triton_red_fused_mean_pow_0", "reduce"),
    ("triton_poi_fused_add_mul_1", "elementwise"),
    ("rotary_embedding_kernel", "elementwise"),
    ("gatherTopK", "sampling"),
    ("_gumbel_sample_kernel", "sampling"),
    ("upsample_bilinear2d_out_frame", "other"),
    ("some_custom_kernel", "other"),
])
def test_category_of_common_kernels(kernel: str, category: str) -> None:
    assert A.category_of(kernel, kernel) == category


def test_argmax_is_sampling_not_reduce() -> None:
    demangled = ("void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, "
                 "at::native::ArgMaxOps<float>, unsigned int, long, 4, 4>>(T3)")
    assert A.category_of("reduce_kernel", demangled) == "sampling"


# ---------------------------------------------------------------------------------- ops

LLAMA_PATHS = [
    ("model.embed_tokens", "embed"),
    ("model.layers.3.input_layernorm", "norm"),
    ("model.layers.3.self_attn.q_proj", "qkv_proj"),
    ("model.layers.3.self_attn.k_proj", "qkv_proj"),
    ("model.layers.3.self_attn.v_proj", "qkv_proj"),
    ("model.layers.3.self_attn.qkv_proj", "qkv_proj"),
    ("model.layers.3.self_attn.o_proj", "o_proj"),
    ("model.layers.3.self_attn", "attention"),
    ("model.layers.3.post_attention_layernorm", "norm"),
    ("model.layers.3.mlp.gate_proj", "gate_proj"),
    ("model.layers.3.mlp.up_proj", "up_proj"),
    ("model.layers.3.mlp.gate_up_proj", "gate_up_proj"),
    ("model.layers.3.mlp.act_fn", "act"),
    ("model.layers.3.mlp.down_proj", "down_proj"),
    ("model.layers.3.mlp", "mlp"),
    ("model.layers.3", "layer"),
    ("model.norm", "norm"),
    ("model.rotary_emb", "rope"),
    ("lm_head", "lm_head"),
    ("model", "model"),  # masks and position ids built once per forward
    # GPT-2 / OPT / Falcon names
    ("transformer.h.0.attn.c_attn", "qkv_proj"),
    ("transformer.h.0.attn.c_proj", "o_proj"),
    ("transformer.h.0.mlp.c_fc", "up_proj"),
    ("transformer.h.0.mlp.c_proj", "down_proj"),
    ("model.decoder.layers.0.fc1", "up_proj"),
    ("model.decoder.layers.0.fc2", "down_proj"),
    ("transformer.wte", "embed"),
]


@pytest.mark.parametrize(("path", "op"), LLAMA_PATHS)
def test_op_of_module_paths(path: str, op: str) -> None:
    parts = path.split(".")
    stack = ["decode", "LlamaForCausalLM"] + [".".join(parts[:i + 1]) for i in range(len(parts))]
    assert A.op_of(stack) == op


def test_no_module_ranges_no_op() -> None:
    assert A.op_of(["prefill"]) is None
    assert A.op_of([]) is None


def _eager_attention_table() -> pd.DataFrame:
    """Two decode steps of a 1-layer model with eager attention: GEMMs Q.K^T and P.V."""
    attn = ["decode", "LlamaForCausalLM", "model", "model.layers.0", "model.layers.0.self_attn"]
    rows = []
    for _step in range(2):
        for kernel, inner in [
            ("nvjet_sm90_tst_8x64_64x16_4x1_v_bz_TNN", ["model.layers.0.self_attn.q_proj"]),
            ("nvjet_sm90_tst_8x64_64x16_4x1_v_bz_TNN", ["model.layers.0.self_attn.k_proj"]),
            ("vectorized_elementwise_kernel", []),  # rotary
            ("nvjet_sm90_tst_64x8_64x16_2x1_v_bz_TNT", []),  # Q.K^T
            ("cunn_SoftMaxForward", []),
            ("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT", []),  # P.V
            ("nvjet_sm90_tst_8x64_64x16_4x1_v_bz_TNN", ["model.layers.0.self_attn.o_proj"]),
        ]:
            stack = attn + inner
            rows.append(_synth.row(kernel, "/".join(stack), 1000.0, dram=1e6))
        rows.append(_synth.row("vectorized_elementwise_kernel", "decode/LlamaForCausalLM/model/"
                               "model.layers.0", 1000.0, dram=1e6))
    return _synth.table(rows)


def test_eager_attention_gemms_are_qk_then_pv_in_each_call() -> None:
    t = _eager_attention_table()
    ops = t["op"].tolist()
    one = ["qkv_proj", "qkv_proj", "attention_other", "attention_qk", "attention_softmax",
           "attention_pv", "o_proj", "layer"]
    assert ops == one + one
    assert t["category"].tolist()[:7] == ["gemm", "gemm", "elementwise", "gemm", "reduce",
                                          "gemm", "gemm"]
    s = rl.summarize(t, by="op").set_index("group")
    assert s.loc["attention_qk", "kernels"] == 2
    assert s.loc["attention_pv", "kernels"] == 2


def test_by_category_renames_only_the_kernels_its_rule_decides(tmp_path: Path) -> None:
    rules = tmp_path / "mine.toml"
    rules.write_text("""
[[op]]
match = '\\.mixer$'
op = "ssm"
by_category = { copy = "ssm_state_copy" }
""")
    r = A.load_rules(rules)
    t = _synth.table([
        _synth.row("CatArrayBatchedCopy", "prefill/model.layers.0.mixer", 1000.0, dram=1e6),
        _synth.row("selective_scan_fwd", "prefill/model.layers.0.mixer", 1000.0, dram=1e6),
        _synth.row("CatArrayBatchedCopy", "prefill/model.layers.0", 1000.0, dram=1e6),
    ])
    A.attribute(t, r)
    assert t["op"].tolist() == ["ssm_state_copy", "ssm", "layer"]


# ------------------------------------------------------------------------------ user rules


def test_user_rules_extend_and_override(tmp_path: Path) -> None:
    rules = tmp_path / "mine.toml"
    rules.write_text(r"""
[[phase]]
name = "our server's steps"
match = '^serve_step_(?P<prefill>\d+)p_(?P<decode>\d+)d$'

[[phase]]
match = '^warmup$'
phase = "other"

[[phase]]
match = '^generate$'
phase = "mixed"

[[category]]
match = 'myfused_moe'
category = "moe"

[[category]]
match = '^nvjet'
field = "kernel"
category = "cublas"

[[op]]
match = '\.experts$'
op = "experts"
""")
    r = A.load_rules(rules)
    assert r.sources == (str(rules), "builtin")
    assert A.phase_of(["serve_step_2p_30d"], r) == "mixed"
    assert A.phase_of(["serve_step_0p_30d"], r) == "decode"
    assert A.phase_of(["generate"], r) == "mixed"       # overrides the built-in rule
    assert A.phase_of(["prefill"], r) == "prefill"      # built-ins still apply
    assert A.category_of("myfused_moe_kernel", None, r) == "moe"
    assert A.category_of("nvjet_sm90_tst_128x256", None, r) == "cublas"
    assert A.category_of("flash_fwd_kernel", None, r) == "attention"
    assert A.op_of(["model.layers.0.mlp.experts"], r) == "experts"


def test_replace_drops_the_builtin_rules_of_a_kind(tmp_path: Path) -> None:
    rules = tmp_path / "only.toml"
    rules.write_text("replace = ['category']\n[[category]]\nmatch = 'nvjet'\ncategory = 'gemm'\n")
    r = A.load_rules(rules)
    assert A.category_of("nvjet_x", None, r) == "gemm"
    assert A.category_of("flash_fwd_kernel", None, r) == "other"
    assert A.phase_of(["decode"], r) == "decode"


def test_load_with_rules_attributes_a_stored_trace_again(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    convert([FIXTURES / "llama_small.ncu-rep"], out)
    rules = tmp_path / "r.toml"
    rules.write_text("[[phase]]\nmatch = '^decode$'\nphase = 'spec'\n")
    assert set(roofprof.load(out).kernels["phase"]) == {"prefill", "decode"}
    again = roofprof.load(out, rules=rules)
    assert set(again.kernels["phase"]) == {"prefill", "spec"}
    assert again.meta["attribution_rules"] == [str(rules), "builtin"]


BAD_RULES = [
    ("[[phase]]\nmatch = 'decode('\nphase = 'decode'\n",
     ["[[phase]] entry 1", "invalid regular expression 'decode('"]),
    ("[[phase]]\nmatch = 'x'\nphase = 'decoding'\n", ["[[phase]] entry 1", "unknown phase"]),
    ("[[phase]]\nmatch = 'x'\n", ["[[phase]] entry 1", "give phase"]),
    ("[[category]]\nmatch = 'a'\ncategory = 'gemm'\n[[category]]\nname = 'second'\n"
     "match = 'b'\ncatgory = 'gemm'\n", ["[[category]] entry 2 (second)", "unknown key 'catgory'"]),
    ("[[category]]\nmatch = 'a'\n", ["[[category]] entry 1", "needs category"]),
    ("[[category]]\nmatch = 'a'\ncategory = 'x'\nfield = 'name'\n", ["field must be one of"]),
    ("[[op]]\nmatch = 'a'\nop = 'x'\ngemm_sequence = 'qk'\n", ["gemm_sequence must be a list"]),
    ("[[op]]\nmatch = 'a'\nop = 'x'\nby_category = ['copy']\n", ["by_category must be a table"]),
    ("[[op]]\nmatch = 'a'\nop = 'x'\nby_category = { copy = 1 }\n",
     ["by_category must be a table"]),
    ("[phase]\nmatch = 'a'\n", ["phase must be an array of tables"]),
    ("[[phases]]\nmatch = 'a'\n", ["unknown table or key 'phases'"]),
    ("replace = ['everything']\n", ["replace must be a list"]),
    ("[[phase]\nmatch = 'a'\n", ["not valid TOML"]),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_RULES)
def test_bad_rules_file_is_one_input_error_naming_file_and_entry(
        tmp_path: Path, text: str, fragments: list[str]) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text(text)
    with pytest.raises(InputError) as info:
        A.load_rules(rules)
    message = str(info.value)
    assert message.startswith(str(rules))
    for f in fragments:
        assert f in message


@pytest.mark.parametrize("command", ["summary", "plot", "convert"])
def test_bad_rules_file_via_cli_exits_2_with_one_line(tmp_path: Path, command: str) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text("[[category]]\nmatch = 'gemm['\ncategory = 'gemm'\n")
    args = {"summary": ["summary", str(FIXTURES / "known_work.ncu-rep")],
            "plot": ["plot", str(FIXTURES / "known_work.ncu-rep"), "-o",
                     str(tmp_path / "p.png")],
            "convert": ["convert", str(FIXTURES / "known_work.ncu-rep"), "-o",
                        str(tmp_path / "t.parquet")]}[command]
    result = CliRunner().invoke(main, [*args, "--rules", str(rules)])
    assert result.exit_code == 2
    assert_one_clear_error(result.exit_code, result.output, str(rules),
                           "[[category]] entry 1", "invalid regular expression")
    assert not (tmp_path / "t.parquet").exists()


def test_missing_rules_file_via_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["summary", str(FIXTURES / "known_work.ncu-rep"),
                                       "--rules", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    assert_one_clear_error(result.exit_code, result.output, "none.toml", "not found")


def test_builtin_rule_files_are_package_data() -> None:
    from importlib import resources

    folder = resources.files("roofprof") / "rules"
    for name in A.RULE_FILES.values():
        assert (folder / name).is_file()
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"rules/*.toml"' in pyproject


# ------------------------------------------------------------------------ storage, load


def test_attribution_is_stored_and_older_traces_are_filled_on_load(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    convert([FIXTURES / "llama_small.ncu-rep"], out)
    assert {"phase", "category", "op"} <= set(pq.read_schema(out).names)
    table = pq.read_table(out)
    old = tmp_path / "old.parquet"
    pq.write_table(table.drop(["phase", "category", "op"]).replace_schema_metadata(
        {META_KEY: table.schema.metadata[META_KEY]}), old)
    t = roofprof.load(old)
    assert list(t.kernels.columns) == list(COLUMNS)
    assert set(t.kernels["phase"]) == {"prefill", "decode"}
    assert (t.kernels["category"] == roofprof.load(out).kernels["category"]).all()


def test_attribution_scales_by_distinct_names() -> None:
    base = load_fixture("llama_small.ncu-rep").kernels
    big = pd.concat([base] * 200, ignore_index=True)  # 37,200 kernels
    out = A.attribute(big.copy())
    assert (out["phase"].to_numpy() == pd.concat([base["phase"]] * 200).to_numpy()).all()


# ------------------------------------------------------------------- golden summaries


@pytest.mark.parametrize("by", ["phase", "category"])
def test_golden_summary_of_llama_by(by: str) -> None:
    trace = load_fixture("llama_small.ncu-rep")
    _check_golden(f"summary_llama_small_by_{by}.json",
                  tb.to_json(rl.summarize(trace, by=by)))


def test_golden_summary_of_llama_by_category_and_phase() -> None:
    trace = load_fixture("llama_small.ncu-rep")
    _check_golden("summary_llama_small_by_category_phase.json",
                  tb.to_json(rl.summarize(trace, by="category,phase")))


def test_phase_table_gives_ai_peaks_bound_and_share() -> None:
    s = rl.summarize(load_fixture("llama_small.ncu-rep"), by="phase").set_index("group")
    for phase in ("prefill", "decode"):
        row = s.loc[phase]
        assert row["pct_of_peak_compute"] == pytest.approx(
            row["work_per_s"] / row["peak_compute_per_s"])
        assert row["pct_of_peak_bandwidth"] == pytest.approx(
            row["bytes"] / (row["time_ns"] * 1e-9) / row["peak_bytes_per_s"])
    assert s.loc["prefill", "ai"] > 5 * s.loc["decode", "ai"]
    assert s["time_share"].sum() == pytest.approx(1.0)


def test_group_by_several_columns() -> None:
    t = load_fixture("llama_small.ncu-rep").kernels
    s = rl.summarize(t, by="category,phase")
    assert "gemm · prefill" in set(s["group"])
    assert s["kernels"].sum() == len(t)
    g = s.set_index("group").loc["gemm · decode"]
    assert g["kernels"] == int(((t["category"] == "gemm") & (t["phase"] == "decode")).sum())


# ------------------------------------------------------------------------------- CLI


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def test_cli_summary_by_phase_and_category() -> None:
    for by in ("phase", "category", "op", "op,phase"):
        result = CliRunner().invoke(main, ["summary", str(FIXTURES / "llama_small.ncu-rep"),
                                           "--by", by, "--wide"])
        assert result.exit_code == 0, result.output
        head = result.output.splitlines()[0].split()
        assert head[:5] == ["group", "kernels", "time", "share", "AI"]
        assert "% peak" in result.output.splitlines()[0]
        assert "DRAM BW" in result.output.splitlines()[0]
    result = CliRunner().invoke(main, ["summary", str(FIXTURES / "llama_small.ncu-rep"),
                                       "--by", "phase", "--format", "json"])
    groups = {g["group"]: g for g in json.loads(result.stdout)}  # notes go to stderr
    assert set(groups) == {"prefill", "decode"}


def test_cli_plot_by_phase_and_by_op(tmp_path: Path) -> None:
    for by in ("phase", "op,phase"):
        out = tmp_path / f"{by}.png"
        result = CliRunner().invoke(main, ["plot", str(FIXTURES / "llama_small.ncu-rep"),
                                           "-o", str(out), "--by", by])
        assert result.exit_code == 0, result.output
        w, h = _png_size(out)
        assert w > 1200
        assert h > 700


def _sweep_traces(tmp_path: Path) -> list[Path]:
    """Three traces whose decode work grows with a fake batch size (bytes stay)."""
    base = load_fixture("llama_small.ncu-rep")
    paths = []
    for batch in (1, 4, 16):
        k = base.kernels.copy()
        for col in ("flop", "flop_tensor_bf16", "flop_fp32", "flop_fp16"):
            k[col] = k[col] * batch
        path = tmp_path / f"batch_{batch}.parquet"
        write_parquet(Trace(k, {**base.meta, "sources": [str(path)]}), path)
        paths.append(path)
    return paths


def test_cli_sweep_plot(tmp_path: Path) -> None:
    paths = _sweep_traces(tmp_path)
    out = tmp_path / "sweep.png"
    result = CliRunner().invoke(main, ["plot", "--sweep", *map(str, paths), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _png_size(out)[0] > 1200
    svg = tmp_path / "sweep.svg"
    result = CliRunner().invoke(main, ["plot", "--sweep", *map(str, paths), "-o", str(svg),
                                       "--by", "category"])
    assert result.exit_code == 0, result.output
    text = svg.read_text()
    for label in ("batch_1", "batch_4", "batch_16"):
        assert label in text


def test_sweep_moves_decode_toward_the_ridge(tmp_path: Path) -> None:
    from roofprof.views import chart

    paths = _sweep_traces(tmp_path)
    ax = chart.plot_sweep([roofprof.load(p) for p in paths], by="phase")
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("batch_4") == 2  # one point per phase
    ai = [rl.summarize(roofprof.load(p), by="phase").set_index("group").loc["decode", "ai"]
          for p in paths]
    assert ai[0] < ai[1] < ai[2]


def test_cli_sweep_needs_two_traces(tmp_path: Path) -> None:
    paths = _sweep_traces(tmp_path)
    result = CliRunner().invoke(main, ["plot", "--sweep", str(paths[0]), "-o",
                                       str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert_one_clear_error(result.exit_code, result.output, "at least two traces")


def test_several_traces_without_sweep_are_plotted_and_summarised_by_trace(
        tmp_path: Path) -> None:
    paths = _sweep_traces(tmp_path)
    result = CliRunner().invoke(main, ["plot", *map(str, paths), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["summary", *map(str, paths), "--by", "trace",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    groups = {g["group"] for g in json.loads(result.stdout)}
    assert groups == {p.name.removesuffix(".parquet") for p in paths}


def test_sweep_as_html_has_its_aggregates(tmp_path: Path) -> None:
    paths = _sweep_traces(tmp_path)
    out = tmp_path / "x.html"
    result = CliRunner().invoke(main, ["plot", "--sweep", *map(str, paths), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().count("aggregate-") >= len(paths)
