# enginebench: build, set up, test, demo.
#
#   make demo      set up on a fresh machine, then the main job: the real vLLM and
#                  SGLang (their CPU paths) and transformers on a tiny model built locally
#   make test      set up, then every test (Go, embedded Python on the fake
#                  engines, and the real engines on CPU)
#   make test-gpu  the GPU tier, for machines with an NVIDIA GPU (see README)

GO        ?= go
PYTHON    ?= python3
BIN       := bin/enginebench
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# go-nvml's header declares deprecated functions; its cgo build warns about each.
export CGO_CFLAGS ?= -O2 -Wno-deprecated-declarations

VENV_CPU  := .venv/cpu
VENV_VLLM := .venv/vllm-cpu
VENV_SGLANG := .venv/sglang-cpu
MODEL     := .cache/tiny-llama
# The venvs share torch and most wheels: download them once.
export SETUP_VENV_WHEELHOUSE ?= $(HOME)/.cache/enginebench/wheels

# The CPU-tier tests and the demo find the real engines here.
CPU_TIER_ENV := ENGINEBENCH_CPU_VENV=$(CURDIR)/$(VENV_CPU) ENGINEBENCH_VLLM_CPU_VENV=$(CURDIR)/$(VENV_VLLM) \
	ENGINEBENCH_SGLANG_CPU_VENV=$(CURDIR)/$(VENV_SGLANG) ENGINEBENCH_TINY_MODEL=$(CURDIR)/$(MODEL)

# vLLM's CPU backend: a 1 GiB KV cache (its default reserves 92% of RAM), and
# no pinning of OpenMP threads to cores on a small shared machine.
VLLM_CPU_ENV := --engine-env 'vllm: VLLM_CPU_KVCACHE_SPACE=1' --engine-env 'vllm: VLLM_CPU_OMP_THREADS_BIND=nobind'

.PHONY: all build setup venv-cpu venv-vllm venv-sglang model test test-go test-lab test-gpu demo demo-programs lint vet fmt bench agreement clean

all: build

build:
	CGO_ENABLED=1 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/enginebench

# Set-up is idempotent: a second run installs nothing (stamp files).
setup: build venv-cpu venv-vllm venv-sglang model

venv-cpu:
	PYTHON=$(PYTHON) scripts/setup-venv.sh $(VENV_CPU) requirements.txt >/dev/null

venv-vllm:
	PYTHON=$(PYTHON) scripts/setup-venv.sh $(VENV_VLLM) requirements-vllm-cpu.txt >/dev/null

# After venv-vllm: the SGLang lock holds all of vLLM's wheels, so the shared
# wheelhouse already has them.
venv-sglang: venv-vllm
	PYTHON=$(PYTHON) scripts/setup-venv.sh $(VENV_SGLANG) requirements-sglang-cpu.txt >/dev/null

model: venv-cpu
	$(VENV_CPU)/bin/python scripts/build_tiny_model.py --out $(MODEL)

# Every test: formatting, vet, and the race-checked Go tests, which include
# the embedded interpreter, the fake engines end to end, and the real engines
# on CPU (absent optional parts skip with a reason).
test: lint setup test-go test-lab

# The agreement lab (lab/agreement): its report and helpers, behind the lab
# build tag so the product's `go test ./...` stays the product's.
test-lab:
	$(GO) test -tags lab -count=1 ./lab/...

test-go:
	$(CPU_TIER_ENV) CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m ./...

# The GPU tier: real vLLM and SGLang on a GPU with NVML. Needs
#   ENGINEBENCH_GPU_MODEL=DIR, and ENGINEBENCH_GPU_VLLM_PYTHON and/or
#   ENGINEBENCH_GPU_SGLANG_PYTHON (a python or venv with that engine).
test-gpu: build
	CGO_ENABLED=1 $(GO) test -tags gpu -count=1 -timeout 60m -v -run 'GPU' ./...

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The seed's two engines compared, transformers beside them as the reference;
# the ratio table divides by vLLM (the first engine).
demo: setup
	$(BIN) run --engine vllm=$(VENV_VLLM) --engine sglang=$(VENV_SGLANG) --engine transformers=$(VENV_CPU) $(VLLM_CPU_ENV) \
		--model $(MODEL) --batch-sizes 1,4,16 --input-len 64 --output-len 64 --reps 3 --warmup 1 \
		--out results/demo-$$(date +%Y%m%d-%H%M%S)

# An SGLang frontend program on both engines (docs/programs.md): a JSON-schema
# answer, whose validity random weights cannot fake. PROGRAM=FILE for another.
PROGRAM ?= examples/programs/json_answer.py
demo-programs: setup
	$(BIN) run --program $(PROGRAM) --engine sglang=$(VENV_SGLANG) --engine vllm=$(VENV_VLLM) $(VLLM_CPU_ENV) \
		--model $(MODEL) --batch-sizes 1,4,16 --reps 3 --warmup 1 \
		--out results/programs-$$(date +%Y%m%d-%H%M%S)

# The agreement lab: throughput against a plain script and vLLM's own benchmark
# (lab/agreement/AGREEMENT.md).
agreement: setup
	lab/agreement/agreement.sh

clean:
	rm -rf bin
