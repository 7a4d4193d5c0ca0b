package redisnonce

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// quietClientLog sends go-redis's own log lines (one per failed dial, for
// instance, which an outage would repeat for every request) to
// slog.Default() at the Debug level: a Store logs outages itself, at a
// bounded rate. go-redis has one logger per program, so this holds for
// every go-redis client of the program; it is done once, by New.
var quietClientLog = sync.OnceFunc(func() { redis.SetLogger(debugLog{}) })

type debugLog struct{}

func (debugLog) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if l := slog.Default(); l.Enabled(ctx, slog.LevelDebug) {
		l.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
	}
}
