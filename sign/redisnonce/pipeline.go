package redisnonce

import (
	"context"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"
)

// The checks of concurrent requests share round trips. A check made
// while nothing is on its way to Redis goes at once, from its request's
// goroutine, as a single command. Otherwise it joins a queue, and one
// goroutine (the pipeline) takes every check waiting there, up to
// maxBatch, and sends them in one write, reading their answers in one
// go. One SET per round trip cost the client and redis-server some 40 µs
// of CPU per check on a loaded machine, mostly in system calls and
// wake-ups; a batch shares them (BenchmarkSeen/redis-tcp-parallel: 43 →
// 14 µs, client and server).
const (
	maxBatch = 128
	queueLen = 4096
)

// A check is a SET waiting for the pipeline's answer.
type check struct {
	cmd      *redis.BoolCmd
	deadline time.Time     // its Seen gives up then
	done     chan struct{} // closed once cmd holds the answer
}

// pipeline sends the queued checks until ctx ends.
func (s *Store) pipeline(ctx context.Context) {
	batch := make([]*check, 0, maxBatch)
	for {
		select {
		case c := <-s.queue:
			batch = append(batch[:0], c)
		case <-ctx.Done():
			return
		}
		// Let the requests that are about to check join this batch:
		// under load it triples the batches (7 → 21 checks each in the
		// bench's wsgi-verify-redis); idle, it returns at once.
		runtime.Gosched()
	fill:
		for len(batch) < maxBatch {
			select {
			case c := <-s.queue:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		s.send(batch)
		clear(batch) // the checks belong to their requests now
	}
}

// send runs a batch as one pipeline, which gives up at the earliest
// deadline of its checks: no one waits for it after that.
func (s *Store) send(batch []*check) {
	s.sending.Add(1)
	defer s.sending.Add(-1)
	deadline := batch[0].deadline
	for _, c := range batch[1:] {
		if c.deadline.Before(deadline) {
			deadline = c.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if len(batch) == 1 {
		s.client.Process(ctx, batch[0].cmd)
	} else {
		pipe := s.client.Pipeline()
		for _, c := range batch {
			pipe.Process(ctx, c.cmd)
		}
		pipe.Exec(ctx)
	}
	for _, c := range batch {
		close(c.done)
	}
}
