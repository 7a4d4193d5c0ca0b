package h1server

import (
	"container/heap"
	"sync"
	"time"
)

// parkTimeouts times out a Server's parked connections with one timer,
// set for the earliest of their deadlines, instead of a timer each.
// Go keeps timers in a heap per P, shared with the read deadlines of
// busy connections, which every request moves; a moved deadline can
// make the runtime look through the whole heap (runtime.timers.adjust).
// With a timer per parked connection that heap grew with the idle
// connections: holding 19,000 of them, adjust took 1.8% of the proxy's
// CPU (perf), and each timer was two more objects for the GC to mark.
// The zero value is ready to use.
type parkTimeouts struct {
	mu    sync.Mutex
	heap  deadlineHeap
	timer *time.Timer // runs fire; made at the first schedule
	next  int64       // when timer fires, Unix ns; 0 when it is stopped
}

// schedule sets p's deadline (Unix ns, not 0), or moves it.
func (t *parkTimeouts) schedule(p *parking, d int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.due = d
	if p.slot > 0 {
		heap.Fix(&t.heap, p.slot-1)
	} else {
		heap.Push(&t.heap, p)
	}
	// A deadline moved later leaves the timer early: fire then finds
	// nothing due and sets it again.
	if t.next == 0 || d < t.next {
		t.arm(d)
	}
}

// cancel takes p out, if it is in.
func (t *parkTimeouts) cancel(p *parking) {
	t.mu.Lock()
	if p.slot > 0 {
		heap.Remove(&t.heap, p.slot-1)
	}
	t.mu.Unlock()
}

// arm sets the timer for d; t.mu is held.
func (t *parkTimeouts) arm(d int64) {
	t.next = d
	wait := time.Until(time.Unix(0, d))
	if t.timer == nil {
		t.timer = time.AfterFunc(wait, t.fire)
		return
	}
	t.timer.Reset(wait)
}

// fire expires the connections whose deadline has come, and sets the
// timer for the next one.
func (t *parkTimeouts) fire() {
	now := time.Now().UnixNano()
	var due []*parking
	t.mu.Lock()
	for len(t.heap) > 0 && t.heap[0].due <= now {
		due = append(due, heap.Pop(&t.heap).(*parking))
	}
	t.next = 0
	if len(t.heap) > 0 {
		t.arm(t.heap[0].due)
	}
	t.mu.Unlock()
	for _, p := range due {
		p.expire()
	}
}

// deadlineHeap orders parkings by due, each knowing its index (slot-1).
type deadlineHeap []*parking

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].slot, h[j].slot = i+1, j+1
}

func (h *deadlineHeap) Push(x any) {
	p := x.(*parking)
	p.slot = len(*h) + 1
	*h = append(*h, p)
}

func (h *deadlineHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	p.slot = 0
	return p
}
