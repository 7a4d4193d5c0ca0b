package h1client

import (
	"context"
	"time"
)

// watchDelay is how long a round trip runs before its connection starts
// following the request's context. Most exchanges are over sooner, and
// so never pay for context.AfterFunc (allocations, and the parent
// context's lock twice); a request cancelled in the meantime is aborted
// once the delay is up.
const watchDelay = 50 * time.Millisecond

// startWatch watches ctx for the round trip that starts:
// after watchDelay, its end closes the connection, which unblocks any
// read or write in progress.
func (c *conn) startWatch(ctx context.Context) {
	c.watchMu.Lock()
	c.watchCtx, c.watchStop = ctx, nil
	c.watchMu.Unlock()
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(watchDelay, c.armWatch)
	} else {
		c.watchTimer.Reset(watchDelay)
	}
}

// armWatch ties the connection to the watched context.
func (c *conn) armWatch() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.watchCtx != nil && c.watchStop == nil {
		c.watchStop = context.AfterFunc(c.watchCtx, c.abort)
	}
}

// stopWatch ends the watch. It reports false when the context ended and
// the connection is being closed, as the stop of context.AfterFunc does.
func (c *conn) stopWatch() bool {
	c.watchTimer.Stop()
	c.watchMu.Lock()
	stop := c.watchStop
	c.watchCtx, c.watchStop = nil, nil
	c.watchMu.Unlock()
	return stop == nil || stop()
}
