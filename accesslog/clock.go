package accesslog

import (
	"sync/atomic"
	"time"
)

// A second's time, formatted once for every line that falls in it:
// time.Format costs a tenth of a line.
type second struct {
	unix int64
	loc  *time.Location
	iso  []byte // "2006-01-02T15:04:05"
	zone []byte // "Z07:00"
	clf  []byte // "02/Jan/2006:15:04:05 -0700"
}

// lastSecond is the second of the latest line.
var lastSecond atomic.Pointer[second]

// secondOf returns t's second, formatted.
func secondOf(t time.Time) *second {
	u := t.Unix()
	if s := lastSecond.Load(); s != nil && s.unix == u && s.loc == t.Location() {
		return s
	}
	s := &second{
		unix: u,
		loc:  t.Location(),
		iso:  t.AppendFormat(nil, "2006-01-02T15:04:05"),
		zone: t.AppendFormat(nil, "Z07:00"),
		clf:  t.AppendFormat(nil, clfTimeLayout),
	}
	lastSecond.Store(s)
	return s
}

// appendTime appends t as the time of a JSON line (timeLayout).
func appendTime(b []byte, t time.Time) []byte {
	s := secondOf(t)
	b = append(b, s.iso...)
	ms := t.Nanosecond() / 1e6
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, s.zone...)
}

// appendCLFTime appends t as the time of a combined or common line.
func appendCLFTime(b []byte, t time.Time) []byte { return append(b, secondOf(t).clf...) }
