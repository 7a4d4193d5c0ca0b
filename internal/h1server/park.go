package h1server

import (
	"bytes"
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// errWouldBlock is what a parkable connection's read of a head returns
// when no more bytes have come: the connection parks then.
var errWouldBlock = errors.New("h1server: no bytes to read yet")

// The states of a parking.
const (
	parkRunning int32 = iota // a goroutine serves the connection
	parkArming               // parking: the goroutine arms the poller and the timer
	parkParked               // no goroutine: the poller or the timer claims it
	parkKicked               // claimed while arming: the parking goroutine goes on
)

// parkAfter is how long a connection waits for its next request with
// its goroutine and buffers before it parks: a busy keep-alive
// connection, whose next request follows within it, never parks and
// costs no more CPU than without parking.
const parkAfter = 10 * time.Millisecond

// parking is how a connection waits between requests, and for the
// rest of a head that trickles in, without a goroutine and without
// buffers (Linux; see poll_linux.go): its goroutine gives the buffers
// back, keeps the part of a head that came in a slice of its size,
// arms the poller for the connection's descriptor and a timer for the
// idle or read-header timeout, and ends. The poller hands the
// connection to a new goroutine when it is readable; the timer, or
// Shutdown, closes it. Whoever moves the state from parkParked to
// parkRunning (claim) owns the connection; a claim while the goroutine
// still arms tells it to go on instead of parking.
type parking struct {
	c   *conn
	raw syscall.RawConn // nil: the connection does not park
	// headStart is when the head being read began (for the first, when
	// the connection was accepted); zero between requests.
	headStart  time.Time
	idleStart  time.Time // when the wait for the next request began
	woke       bool      // resumed: the poller saw bytes (or the end) come
	state      atomic.Int32
	deadline   atomic.Int64 // when a parked connection times out, Unix ns; 0 never
	registered bool         // in the poller's set
	// due and slot are the Server's parkTimeouts', under its lock: the
	// deadline it holds for the connection, and where (0: none).
	due  int64
	slot int
	pollOps
}

func (p *parking) init(c *conn) {
	p.c = c
	p.initPoll()
}

// able reports whether the connection parks.
func (p *parking) able() bool { return p.raw != nil }

// park ends the goroutine's hold on the connection, and reports
// whether it did: nothing is left to write, and what br holds is the
// start of a head. If not (the connection was claimed while parking),
// the goroutine goes on serving it, its buffers released.
func (p *parking) park() bool {
	c := p.c
	now := time.Now()
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		c.cr.partial = bytes.Clone(b)
		if p.headStart.IsZero() {
			p.headStart = now
		}
	}
	c.release()
	var d int64
	if !p.headStart.IsZero() {
		if t := c.s.ReadHeaderTimeout; t > 0 {
			d = p.headStart.Add(t).UnixNano()
		}
	} else if t := c.s.idleTimeout(); t > 0 {
		start := p.idleStart
		if start.IsZero() {
			start = now
		}
		d = start.Add(t).UnixNano()
	}
	p.deadline.Store(d)
	return p.wait()
}

// await returns once bytes of the next head are at hand, or
// errWouldBlock when none came within parkAfter: the connection parks
// then. Waiting so, bounded by the read-header or idle timeout, the
// goroutine reads as without parking.
func (p *parking) await() error {
	c := p.c
	if c.br.Buffered() > 0 || c.cr.has {
		return nil
	}
	if p.woke {
		p.woke = false
		c.cr.nonblock = true
		_, err := c.br.Peek(1)
		c.cr.nonblock = false
		return err
	}
	now := time.Now()
	var limit time.Time
	if c.lastMethod == "" {
		if t := c.s.ReadHeaderTimeout; t > 0 {
			limit = p.headStart.Add(t)
		}
	} else {
		p.idleStart = now
		if t := c.s.idleTimeout(); t > 0 {
			limit = now.Add(t)
		}
	}
	d := now.Add(parkAfter)
	final := !limit.IsZero() && !limit.After(d)
	if final {
		d = limit
	}
	c.stale.Store(false)
	c.rwc.SetReadDeadline(d)
	c.deadline = true
	_, err := c.br.Peek(1)
	// This deadline is for this wait only: it goes before the next
	// read (see clearStale).
	c.stale.Store(true)
	if err != nil && !final && errors.Is(err, os.ErrDeadlineExceeded) {
		return errWouldBlock
	}
	return err
}

// wait arms the timer and the poller and lets the connection go, which
// must not be used after, unless it was claimed meanwhile: then it
// reports false and the caller goes on with it.
func (p *parking) wait() bool {
	p.state.Store(parkArming)
	// Close and Shutdown mark the connection closed, then claim it, then
	// close its descriptor. A claim made before arming began found the
	// goroutine running and left the connection to it: parked now, it
	// would wait on a descriptor closed under it, with no claim to come.
	if p.c.state.Load() == stateClosed {
		p.state.Store(parkRunning)
		p.c.close()
		return true
	}
	if d := p.deadline.Load(); d != 0 {
		p.c.s.parked.schedule(p, d)
	} else {
		p.c.s.parked.cancel(p)
	}
	if err := pollArm(p); err != nil {
		// Closed meanwhile (by Shutdown or Close).
		p.state.Store(parkRunning)
		p.c.close()
		return true
	}
	if p.state.CompareAndSwap(parkArming, parkParked) {
		return true
	}
	p.state.Store(parkRunning) // kicked: bytes came, or the timer fired
	return false
}

// claim takes a parked connection over, and reports whether it did; a
// connection being parked is kicked instead, for its goroutine to go on.
func (p *parking) claim() bool {
	for {
		switch p.state.Load() {
		case parkParked:
			if p.state.CompareAndSwap(parkParked, parkRunning) {
				return true
			}
		case parkArming:
			if p.state.CompareAndSwap(parkArming, parkKicked) {
				return false
			}
		default:
			return false
		}
	}
}

// expire runs when the connection's deadline comes (parkTimeouts.fire):
// it closes a parked connection whose time is up. A deadline set for an
// earlier park may come late, so the deadline is checked again.
func (p *parking) expire() {
	if !p.claim() {
		return
	}
	if d := p.deadline.Load(); d == 0 || time.Now().UnixNano() < d {
		if !p.wait() {
			go p.c.resume()
		}
		return
	}
	p.c.close()
}

// forget takes the connection out of the poller's set and its deadline
// out of the Server's, before it closes or is hijacked: neither holds it
// after.
func (p *parking) forget() {
	if !p.able() {
		return
	}
	p.c.s.parked.cancel(p)
	if p.registered {
		pollForget(p)
		p.registered = false
	}
}

// longHead switches to waiting reads, bounded by the read-header
// timeout, for a head longer than br's buffer: such heads are read by
// the goroutine, as without parking.
func (p *parking) longHead() {
	c := p.c
	c.cr.nonblock = false
	c.stale.Store(false)
	if t := c.s.ReadHeaderTimeout; t > 0 {
		start := p.headStart
		if start.IsZero() {
			start = time.Now()
		}
		c.rwc.SetReadDeadline(start.Add(t))
		c.deadline = true
	} else if c.deadline { // await's
		c.rwc.SetReadDeadline(time.Time{})
		c.deadline = false
	}
}
