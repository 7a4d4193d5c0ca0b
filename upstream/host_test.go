package upstream

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		spec, path string
		want       string // Target.String(), or "" for an error
		weight     int
		kind       Discovery
		socket     string
		wantErr    string
	}{
		{spec: "http://127.0.0.1:9000", want: "http://127.0.0.1:9000", weight: 1},
		{spec: "http://127.0.0.1:9000/app?x=1;weight=3", want: "http://127.0.0.1:9000/app?x=1;weight=3", weight: 3},
		{spec: "https://b.example;weight=1000", want: "https://b.example;weight=1000", weight: 1000},
		{spec: "unix:/run/app.sock", path: "/app?x=1", want: "unix:/run/app.sock", weight: 1, socket: "/run/app.sock"},
		{spec: "unix:/run/app.sock;weight=2", want: "unix:/run/app.sock;weight=2", weight: 2, socket: "/run/app.sock"},
		{spec: "dns+http://app.internal:9000", want: "dns+http://app.internal:9000", weight: 1, kind: DNS},
		{spec: "srv+http://_app._tcp.example", want: "srv+http://_app._tcp.example", weight: 1, kind: SRV},
		{spec: "http://a:1;weight=0", wantErr: "weight"},
		{spec: "http://a:1;weight=1001", wantErr: "weight"},
		{spec: "http://a:1;weight=x", wantErr: "weight"},
		{spec: "ftp://a:1", wantErr: "scheme"},
		{spec: "http://", wantErr: "no host"},
		{spec: "http://u@a:1", wantErr: "user info"},
		{spec: "http://a:1#f", wantErr: "fragment"},
		{spec: "unix:", wantErr: "no socket path"},
		{spec: "unix:/s", path: "app", wantErr: "want /PATH?QUERY"},
		{spec: "http://a:1", path: "/app", wantErr: "unix:PATH only"},
		{spec: "dns+http://app.internal", wantErr: "needs a port"},
		{spec: "srv+http://_app._tcp.example:80", wantErr: "SRV records"},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.spec, tt.path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one with %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if got.String() != tt.want || got.Weight != tt.weight || got.Discovery != tt.kind || got.Socket != tt.socket {
			t.Errorf("%q: %+v (%s), want %s weight %d kind %d socket %q", tt.spec, got, got, tt.want, tt.weight, tt.kind, tt.socket)
		}
	}
	// A unix target's path goes on its URL.
	if tg, _ := ParseTarget("unix:/s", "/app?x=1"); tg.URL.String() != "http://localhost/app?x=1" {
		t.Errorf("unix target URL %s", tg.URL)
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name    string
		want    Policy
		wantErr bool
	}{
		{"round_robin", &RoundRobin{}, false},
		{"least_conn", &LeastConn{}, false},
		{"random_two", RandomTwo{}, false},
		{"ip_hash", IPHash{}, false},
		{"header:x-user", HeaderHash{Name: "X-User"}, false},
		{"cookie:session", CookieHash{Name: "session"}, false},
		{"first", First{}, false},
		{"header:", nil, true},
		{"cookie:a=b", nil, true},
		{"round_robin:x", nil, true},
		{"fastest", nil, true},
		{"", nil, true},
	}
	for _, tt := range tests {
		got, err := ParsePolicy(tt.name)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v", tt.name, err)
			continue
		}
		if err == nil {
			switch w := tt.want.(type) {
			case *RoundRobin, *LeastConn:
				if got == nil || !sameType(got, w) {
					t.Errorf("%q: %T, want %T", tt.name, got, w)
				}
			default:
				if got != tt.want {
					t.Errorf("%q: %#v, want %#v", tt.name, got, tt.want)
				}
			}
		}
	}
}

func sameType(a, b Policy) bool {
	switch a.(type) {
	case *RoundRobin:
		_, ok := b.(*RoundRobin)
		return ok
	case *LeastConn:
		_, ok := b.(*LeastConn)
		return ok
	}
	return false
}
