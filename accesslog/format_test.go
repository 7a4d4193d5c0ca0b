package accesslog

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// combinedRE matches a line of nginx's combined format, as log tools
// (GoAccess's COMBINED, Apache's own) read it; common is its head.
var combinedRE = regexp.MustCompile(`^(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?\n$`)

// hostile is what a client may put in a target, a User-Agent or a
// Referer to break a log line.
const hostile = "a\"b\\c\nd\re\tf\x00g\x1b[31mh\xff\xfei\u2028j{\"k\":1}"

func sampleRecord() *observe.Record {
	return &observe.Record{
		Trace: wsgiproxy.Trace{
			RequestID: "0123456789abcdef0123456789abcdef", Route: "app",
			Client:   netip.MustParseAddr("203.0.113.9"),
			Upstream: "http://127.0.0.1:9000", UpstreamTTFB: 1234 * time.Microsecond,
			KeyID: "k1",
		},
		Start:    time.Date(2026, 12, 5, 10, 3, 4, 5e6, time.FixedZone("", 3600)),
		Duration: 2500 * time.Microsecond,
		Peer:     "127.0.0.1:40000",
		Method:   "GET", Target: "/app/x?y=1", Proto: "HTTP/1.1", Host: "example.com",
		UserAgent: "curl/8.0", Referer: "http://example.com/",
		Status: 200, BytesIn: 0, BytesOut: 1234,
	}
}

// TestJSONLine checks every field of a JSON line.
func TestJSONLine(t *testing.T) {
	line := string(appendLine(nil, JSON, sampleRecord()))
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("not one line: %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	want := map[string]any{
		"time": "2026-12-05T10:03:04.005+01:00", "client": "203.0.113.9", "peer": "127.0.0.1:40000",
		"method": "GET", "target": "/app/x?y=1", "proto": "HTTP/1.1", "host": "example.com",
		"status": 200.0, "bytes_out": 1234.0, "bytes_in": 0.0, "duration_ms": 2.5,
		"request_id": "0123456789abcdef0123456789abcdef", "route": "app",
		"upstream": "http://127.0.0.1:9000", "upstream_ttfb_ms": 1.234, "keyid": "k1",
		"referer": "http://example.com/", "user_agent": "curl/8.0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %s: %v", k, got[k])
		}
	}
}

// TestCombinedLine checks the combined and common lines against
// nginx's format.
func TestCombinedLine(t *testing.T) {
	r := sampleRecord()
	line := string(appendLine(nil, Combined, r))
	want := `203.0.113.9 - - [05/Dec/2026:10:03:04 +0100] "GET /app/x?y=1 HTTP/1.1" 200 1234 "http://example.com/" "curl/8.0"` + "\n"
	if line != want {
		t.Errorf("combined:\n got %q\nwant %q", line, want)
	}
	if !combinedRE.MatchString(line) {
		t.Errorf("combined line does not match: %q", line)
	}
	line = string(appendLine(nil, Common, r))
	if want := `203.0.113.9 - - [05/Dec/2026:10:03:04 +0100] "GET /app/x?y=1 HTTP/1.1" 200 1234` + "\n"; line != want {
		t.Errorf("common:\n got %q\nwant %q", line, want)
	}
	r.UserAgent, r.Referer, r.Client = "", "", netip.Addr{}
	r.Peer = "@"
	line = string(appendLine(nil, Combined, r))
	if want := `- - - [05/Dec/2026:10:03:04 +0100] "GET /app/x?y=1 HTTP/1.1" 200 1234 "-" "-"` + "\n"; line != want {
		t.Errorf("no client, no headers:\n got %q\nwant %q", line, want)
	}
}

// TestHostileBytes checks that what a client sends cannot break a line:
// each format's line stays one line, JSON stays valid and gives back
// the text (invalid UTF-8 as U+FFFD), combined escapes as nginx does.
func TestHostileBytes(t *testing.T) {
	r := sampleRecord()
	r.Target, r.UserAgent, r.Referer = "/"+hostile, hostile, hostile
	r.Method = "GET\n"
	for _, f := range []Format{JSON, Combined, Common} {
		line := string(appendLine(nil, f, r))
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || strings.ContainsAny(line[:len(line)-1], "\r\x00\x1b") {
			t.Errorf("%v: not one clean line: %q", f, line)
		}
		for _, b := range []byte(line) {
			if f != JSON && (b < 0x20 && b != '\n' || b > 0x7e) {
				t.Errorf("%v: raw byte %#x in %q", f, b, line)
				break
			}
		}
	}
	var got map[string]any
	line := appendLine(nil, JSON, r)
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("JSON: %v: %s", err, line)
	}
	// Each invalid byte becomes one U+FFFD; the rest comes back whole.
	wantText := strings.ReplaceAll(hostile, "\xff\xfe", "\ufffd\ufffd")
	if got["user_agent"] != wantText || got["target"] != "/"+wantText || got["method"] != "GET\n" {
		t.Errorf("JSON: user agent %q, target %q, method %q", got["user_agent"], got["target"], got["method"])
	}
	m := combinedRE.FindStringSubmatch(string(appendLine(nil, Combined, r)))
	if m == nil {
		t.Fatalf("combined line does not match: %q", appendLine(nil, Combined, r))
	}
	if want := `a\x22b\x5Cc\x0Ad\x0De\x09f\x00g\x1B[31mh\xFF\xFEi\xE2\x80\xA8j{\x22k\x22:1}`; m[8] != want {
		t.Errorf("combined user agent %s, want %s", m[8], want)
	}
	if m[4] != `GET\x0A /`+m[8]+` HTTP/1.1` {
		t.Errorf("combined request %s", m[4])
	}
}

// TestAppendMillis checks the durations' text.
func TestAppendMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.000", time.Microsecond: "0.001", 1500 * time.Microsecond: "1.500",
		12*time.Second + 345678*time.Microsecond: "12345.678", 999: "0.000",
	} {
		if got := string(appendMillis(nil, d)); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
		if _, err := strconv.ParseFloat(want, 64); err != nil {
			t.Error(err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, name := range []string{"json", "combined", "common"} {
		f, err := ParseFormat(name)
		if err != nil || f.String() != name {
			t.Errorf("%s: %v, %v", name, f, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("xml: %v", err)
	}
}

// TestTimes checks the cached formatting of times against time.Format,
// across seconds, zones and milliseconds.
func TestTimes(t *testing.T) {
	base := time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("", -5*3600-30*60), time.FixedZone("", 3600)} {
		for _, d := range []time.Duration{0, 1, 999 * time.Millisecond, 1500 * time.Millisecond, 2*time.Second + 7*time.Millisecond} {
			tm := base.Add(d).In(loc)
			if got, want := string(appendTime(nil, tm)), tm.Format(timeLayout); got != want {
				t.Errorf("JSON time %s, want %s", got, want)
			}
			if got, want := string(appendCLFTime(nil, tm)), tm.Format(clfTimeLayout); got != want {
				t.Errorf("CLF time %s, want %s", got, want)
			}
		}
	}
}
