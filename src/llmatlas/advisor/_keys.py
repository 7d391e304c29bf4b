"""The orders `fit` can sort by and the published scores among them (cheap to import: the CLI
builds its --sort help from them)."""

SORT_KEYS = (
    "rank",
    "speed",
    "memory",
    "params",
    "date",
    "mmlu",
    "tmmlu+",
    "c-eval",
    "cmmlu",
    "humaneval",
)
SCORE_NAMES = {
    "mmlu": "MMLU",
    "tmmlu+": "TMMLU+",
    "c-eval": "C-Eval",
    "cmmlu": "CMMLU",
    "humaneval": "HumanEval",
}
