# The README's two commands: `go run ./cmd/wsgiproxy demo` and `make test`.
GO ?= go

.PHONY: test deps check demo

# test installs what the tests need (idempotent), then runs every check.
test: deps check
	$(GO) test -race -count=1 ./...
	bash scripts/test-python.sh

deps:
	bash scripts/install-test-deps.sh

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt wants to change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo:
	$(GO) run ./cmd/wsgiproxy demo

.PHONY: soak
# soak: minutes of mixed load through a front and a backend; not in CI.
soak:
	$(GO) run ./soak -duration $(or $(SOAK_DURATION),3m)

.PHONY: bench
# bench: the side-by-side proxy benchmark against nginx, HAProxy, Caddy and
# httputil.ReverseProxy (about 9 minutes; not in CI). Results: bench/RESULTS.md.
bench:
	bash bench/run.sh --out bench/RESULTS.md
