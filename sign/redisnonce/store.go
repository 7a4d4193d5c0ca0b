package redisnonce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// Defaults of a [Config].
const (
	DefaultPrefix  = "wsgiproxy:nonce:"
	DefaultTimeout = 50 * time.Millisecond
)

// logInterval is the least time between two log lines about an outage.
const logInterval = 10 * time.Second

// Config describes a [Store]. Only URL is required.
type Config struct {
	// URL locates the server: redis://[USER:PASSWORD@]HOST:PORT/DB,
	// rediss://... for TLS, or unix://[:PASSWORD@]/PATH?db=DB.
	URL string
	// CAFile, with a rediss:// URL, names the PEM file of the
	// certificate authorities that may sign the server's certificate;
	// empty means the system's.
	CAFile string
	// Prefix starts every key; empty means DefaultPrefix.
	Prefix string
	// Timeout bounds each check, connecting included; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// FailOpen lets a request whose nonce cannot be checked through
	// unchecked (logged and counted) instead of refusing it with 503.
	FailOpen bool
	// Logger receives the store's records; nil means slog.Default().
	Logger *slog.Logger
}

// A Store is a [sign.NonceStore] in Redis. It is safe for concurrent
// use; make it with [New] and close it when done.
type Store struct {
	client   *redis.Client
	name     string // the URL without its password, for logs
	prefix   string
	timeout  time.Duration
	failOpen bool
	logger   *slog.Logger
	stop     context.CancelFunc // ends the start-up probe and the pipeline
	queue    chan *check        // checks waiting for the pipeline
	closed   <-chan struct{}    // closed by Close
	sending  atomic.Int32       // commands and pipelines on their way

	unchecked atomic.Uint64
	refused   atomic.Uint64 // since the last log line
	lastLog   atomic.Int64  // unix nanoseconds of the last outage line
	down      atomic.Bool   // the last check failed
}

// New checks cfg and returns its Store. It does not wait for the
// server: it checks in the background that the server answers and logs
// what it finds.
func New(cfg Config) (*Store, error) {
	opts, name, err := options(cfg)
	if err != nil {
		return nil, err
	}
	quietClientLog()
	s := &Store{
		client:   redis.NewClient(opts),
		name:     name,
		prefix:   cfg.Prefix,
		timeout:  opts.ReadTimeout,
		failOpen: cfg.FailOpen,
		logger:   cfg.Logger,
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop, s.closed = stop, ctx.Done()
	s.queue = make(chan *check, queueLen)
	go s.pipeline(ctx)
	go s.probe(ctx)
	return s, nil
}

// probe logs whether the server answers, once, without delaying anyone.
func (s *Store) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout(s.timeout))
	defer cancel()
	err := s.client.Ping(ctx).Err()
	switch {
	case ctx.Err() == context.Canceled:
	case err != nil:
		s.down.Store(true)
		then := "signed requests get 503 until it is up"
		if s.failOpen {
			then = "signed requests are let through unchecked until it is up (fail open)"
		}
		s.logger.Error("redisnonce: nonce store unreachable at start-up: "+then, "store", s.name, "err", err)
	default:
		s.logger.Info("redisnonce: nonce store ready", "store", s.name, "prefix", s.prefix, "timeout", s.timeout, "fail_open", s.failOpen)
	}
}

// probeTimeout is how long the start-up probe waits: longer than a
// request does, since a first connection (TLS above all) costs more.
func probeTimeout(timeout time.Duration) time.Duration {
	return max(timeout, 2*time.Second)
}

// Seen implements [sign.NonceStore] with SET key 1 NX PX ms, sent at
// once when nothing else is on its way to Redis, else in the pipeline's
// next batch (see pipeline.go). It waits for the answer no longer than
// the store's timeout.
func (s *Store) Seen(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	ms := (time.Until(until) + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1 // expiring this very millisecond: still set, or an exact replay passes
	}
	cmd := redis.NewBoolCmd(ctx, "set", s.prefix+keyID+":"+nonce, "1", "nx", "px", strconv.FormatInt(int64(ms), 10))
	if s.sending.CompareAndSwap(0, 1) {
		// Nothing on its way to Redis: no batch to join, send at once.
		tctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := s.client.Process(tctx, cmd)
		cancel()
		s.sending.Add(-1)
		if err != nil && ctx.Err() != nil {
			return false, s.abandoned(ctx)
		}
		return s.answer(keyID, cmd)
	}
	c := &check{cmd: cmd, deadline: time.Now().Add(s.timeout), done: make(chan struct{})}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case s.queue <- c:
	case <-timer.C:
		return s.failed(keyID, context.DeadlineExceeded)
	case <-ctx.Done():
		return false, s.abandoned(ctx)
	case <-s.closed:
		return s.failed(keyID, redis.ErrClosed)
	}
	select {
	case <-c.done:
	case <-timer.C:
		return s.failed(keyID, context.DeadlineExceeded)
	case <-ctx.Done():
		return false, s.abandoned(ctx)
	}
	return s.answer(keyID, c.cmd)
}

// answer is what Seen returns once cmd has been sent.
func (s *Store) answer(keyID string, cmd *redis.BoolCmd) (bool, error) {
	set, err := cmd.Result()
	if err != nil {
		return s.failed(keyID, err)
	}
	if s.down.Load() && s.down.CompareAndSwap(true, false) {
		s.logger.Info("redisnonce: nonce store answers again", "store", s.name, "refused", s.refused.Swap(0), "unchecked", s.unchecked.Load())
	}
	return !set, nil
}

// abandoned is the error of a check whose request ended first (its
// client left): no answer, and no sign that the store is down.
func (s *Store) abandoned(ctx context.Context) error {
	return fmt.Errorf("%w: request ended before the check: %v", sign.ErrNonceStoreUnavailable, context.Cause(ctx))
}

// failed answers a check that did not happen.
func (s *Store) failed(keyID string, err error) (bool, error) {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v", s.timeout)
	}
	s.down.Store(true)
	if s.failOpen {
		n := s.unchecked.Add(1)
		s.logger.Warn("redisnonce: nonce not checked, request let through (fail open)", "store", s.name, "keyid", keyID, "err", err, "unchecked", n)
		return false, nil
	}
	s.refused.Add(1)
	now, last := time.Now().UnixNano(), s.lastLog.Load()
	if now-last >= int64(logInterval) && s.lastLog.CompareAndSwap(last, now) {
		s.logger.Error("redisnonce: nonce store unavailable: signed requests refused with 503", "store", s.name, "err", err, "refused", s.refused.Swap(0), "next_log_in", logInterval)
	}
	return false, sign.ErrNonceStoreUnavailable
}

// Unchecked returns the number of requests let through unchecked since
// the store was made (with FailOpen).
func (s *Store) Unchecked() uint64 { return s.unchecked.Load() }

// Close closes the connections to the server. Seen fails afterwards.
func (s *Store) Close() error {
	s.stop()
	return s.client.Close()
}
