package h1server

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestParkTimeoutsHeap: scheduling, moving and cancelling deadlines in
// any order keeps the heap ordered, each parking knowing its place, and
// the timer set no later than the earliest deadline.
func TestParkTimeoutsHeap(t *testing.T) {
	var pt parkTimeouts
	defer func() { pt.timer.Stop() }()
	ps := make([]parking, 50)
	want := map[*parking]int64{}
	base := time.Now().Add(time.Hour).UnixNano() // none comes due
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		p := &ps[r.IntN(len(ps))]
		if r.IntN(3) == 0 {
			pt.cancel(p)
			delete(want, p)
		} else {
			d := base + r.Int64N(int64(time.Minute))
			pt.schedule(p, d)
			want[p] = d
		}
		if len(pt.heap) != len(want) {
			t.Fatalf("%d deadlines in the heap, want %d", len(pt.heap), len(want))
		}
		for i, p := range pt.heap {
			if p.slot != i+1 || p.due != want[p] {
				t.Fatalf("heap[%d]: slot %d, due %d; want slot %d, due %d", i, p.slot, p.due, i+1, want[p])
			}
			if i > 0 && pt.heap[(i-1)/2].due > p.due {
				t.Fatalf("heap[%d] is before its parent", i)
			}
		}
		if len(pt.heap) > 0 && pt.next > pt.heap[0].due {
			t.Fatalf("timer set for %d, after the earliest deadline %d", pt.next, pt.heap[0].due)
		}
	}
	for i := range ps {
		if _, in := want[&ps[i]]; !in && ps[i].slot != 0 {
			t.Fatalf("parking %d not scheduled, but in slot %d", i, ps[i].slot)
		}
	}
}
