# enginebench: build, test, demo.
#
#   make demo      the main job on the embedded default (a real engine on CPU,
#                  a tiny model built locally); sets everything up first
#   make test      every test (sets up the CPU tier it needs)
#   make test-gpu  the GPU tier, for machines with an NVIDIA GPU (see README)

GO        ?= go
PYTHON    ?= python3
BIN       := bin/enginebench
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: all build test test-go test-gpu demo lint fmt vet bench tidy-check clean

all: build

build:
	CGO_ENABLED=1 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/enginebench

# Every test: formatting, vet, the race-checked Go tests (embedded Python
# included; absent optional parts skip with a reason).
test: lint test-go

test-go:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo: build
	$(BIN) env

clean:
	rm -rf bin
