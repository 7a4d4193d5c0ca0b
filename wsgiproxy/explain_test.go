package wsgiproxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"testing"
)

// explain runs r through a middleware made from cfg with Explain set,
// and returns what the application found.
func explain(t *testing.T, cfg Middleware, r *http.Request) *Explanation {
	t.Helper()
	cfg.Explain, cfg.Logger = true, discardLogger
	mw, err := NewMiddleware(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got *Explanation
	rec := httptest.NewRecorder()
	mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ExplanationOf(r) })).ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got == nil {
		t.Fatal("no explanation behind a middleware with Explain")
	}
	return got
}

func statuses(e *Explanation) map[string]string {
	m := map[string]string{}
	for _, h := range e.Headers {
		m[h.Name] = h.Status
	}
	return m
}

func TestExplanation(t *testing.T) {
	direct := map[string]string{
		"REMOTE_ADDR": SourcePeer, "HTTP_HOST": SourceDirect, "SERVER_NAME": SourceDirect, "SERVER_PORT": SourceDirect,
		"wsgi.url_scheme": SourceDirect, "SCRIPT_NAME": SourceDirect, "PATH_INFO": SourceDirect, "QUERY_STRING": SourceDirect,
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range direct {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		cfg      Middleware
		peer     string
		target   string
		h        hdrs
		trust    string
		sources  map[string]string
		statuses map[string]string
	}{
		{
			name: "WSGIProxy front", cfg: Middleware{Trusted: testTrusted}, peer: trustedPeer, target: "/myapp/x?q=1",
			h: hdrs{
				{"X-Wsgiproxy-Version", "0.1"}, {"X-Forwarded-For", "192.0.2.7"}, {"X-Forwarded-Server", "example.com:8443"},
				{"X-Forwarded-Host", "other.example"}, {"X-Forwarded-Scheme", "https"}, {"X-Script-Name", "/blog"},
				{"X-Traversal-Path", "/myapp"}, {"X-Wsgiproxy-Str-0", "REMOTE_USER alice"}, {"X-Real-Ip", "192.0.2.8"},
			},
			trust: TrustFull,
			sources: with("REMOTE_ADDR", "X-Forwarded-For", "HTTP_HOST", "X-Forwarded-Server", "SERVER_NAME", "X-Forwarded-Server",
				"SERVER_PORT", "X-Forwarded-Server", "wsgi.url_scheme", "X-Forwarded-Scheme", "SCRIPT_NAME", "X-Script-Name",
				"PATH_INFO", "X-Traversal-Path", "REMOTE_USER", "X-WSGIProxy-Str-0"),
			statuses: map[string]string{
				"X-WSGIProxy-Version": HeaderChecked, "X-Forwarded-For": HeaderUsed, "X-Forwarded-Server": HeaderUsed,
				"X-Forwarded-Host": HeaderUnused, "X-Forwarded-Scheme": HeaderUsed, "X-Script-Name": HeaderUsed,
				"X-Traversal-Path": HeaderUsed, "X-WSGIProxy-Str-0": HeaderUsed, "X-Real-Ip": HeaderUnused,
			},
		},
		{
			name: "standard proxy", cfg: Middleware{TrustedStandard: testTrusted}, peer: trustedPeer, target: "/x",
			h: hdrs{
				{"X-Forwarded-For", "192.0.2.7, 10.0.0.9"}, {"X-Forwarded-Host", "example.com"}, {"X-Forwarded-Port", "8443"},
				{"X-Forwarded-Proto", "https"}, {"X-Wsgiproxy-Host", "evil"}, {"X-Wsgiproxy-Str-0", "REMOTE_USER root"},
			},
			trust: TrustStandard,
			sources: with("REMOTE_ADDR", "X-Forwarded-For", "HTTP_HOST", "X-Forwarded-Host + X-Forwarded-Port",
				"SERVER_NAME", "X-Forwarded-Host", "SERVER_PORT", "X-Forwarded-Host + X-Forwarded-Port", "wsgi.url_scheme", "X-Forwarded-Proto"),
			statuses: map[string]string{
				"X-Forwarded-For": HeaderUsed, "X-Forwarded-Host": HeaderUsed, "X-Forwarded-Port": HeaderUsed,
				"X-Forwarded-Proto": HeaderUsed, "X-WSGIProxy-Host": HeaderUntrusted, "X-WSGIProxy-Str-0": HeaderUntrusted,
			},
		},
		{
			name: "untrusted client", cfg: Middleware{Trusted: testTrusted}, peer: untrustedPeer, target: "/x",
			h:       hdrs{{"X-Forwarded-For", "6.6.6.6"}, {"Forwarded", "for=6.6.6.6"}, {"X-Wsgiproxy-Str-0", "REMOTE_USER root"}},
			trust:   TrustNone,
			sources: direct,
			statuses: map[string]string{
				"X-Forwarded-For": HeaderUntrusted, "Forwarded": HeaderUntrusted, "X-WSGIProxy-Str-0": HeaderUntrusted,
			},
		},
		{
			name: "forced settings", cfg: Middleware{Trusted: testTrusted, PopPrefix: "/app", Scheme: "https", Port: "443"},
			peer: trustedPeer, target: "/app/x",
			h:     hdrs{{"Forwarded", "for=192.0.2.7;proto=http;host=example.com"}, {"X-Script-Name", "/front"}},
			trust: TrustFull,
			sources: with("REMOTE_ADDR", "Forwarded", "HTTP_HOST", SourceForced, "SERVER_NAME", "Forwarded", "SERVER_PORT", SourceForced,
				"wsgi.url_scheme", SourceForced, "SCRIPT_NAME", "X-Script-Name + forced", "PATH_INFO", SourceForced),
			statuses: map[string]string{"Forwarded": HeaderUsed, "X-Script-Name": HeaderUsed},
		},
		{
			name: "overrides", cfg: Middleware{Trusted: testTrusted}, peer: trustedPeer, target: "/x?a=1",
			h: hdrs{
				{"X-Wsgiproxy-Script-Name", "/s"}, {"X-Script-Name", "/ignored"}, {"X-Wsgiproxy-Path-Info", "/p"},
				{"X-Wsgiproxy-Query-String", "b=2"}, {"X-Wsgiproxy-Wsgi-Url-Scheme", "https"}, {"X-Forwarded-Proto", "http"},
			},
			trust: TrustFull,
			sources: with("SCRIPT_NAME", "X-WSGIProxy-Script-Name", "PATH_INFO", "X-WSGIProxy-Path-Info",
				"QUERY_STRING", "X-WSGIProxy-Query-String", "wsgi.url_scheme", "X-WSGIProxy-Wsgi-Url-Scheme"),
			statuses: map[string]string{
				"X-WSGIProxy-Script-Name": HeaderUsed, "X-Script-Name": HeaderUnused, "X-WSGIProxy-Path-Info": HeaderUsed,
				"X-WSGIProxy-Query-String": HeaderUsed, "X-WSGIProxy-Wsgi-Url-Scheme": HeaderUsed, "X-Forwarded-Proto": HeaderUnused,
			},
		},
		{
			name: "signed", cfg: Middleware{Verifier: stubVerifier{signed: true}}, peer: untrustedPeer, target: "/x",
			h:        hdrs{{"Signature", "sig1=:AAAA:"}, {"Signature-Input", `sig1=("@method");keyid="k"`}, {"X-Forwarded-For", "192.0.2.7"}},
			trust:    TrustSigned,
			sources:  with("REMOTE_ADDR", "X-Forwarded-For"),
			statuses: map[string]string{"Signature": HeaderChecked, "Signature-Input": HeaderChecked, "X-Forwarded-For": HeaderUsed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest("GET", "http://backend.test"+tt.target, tt.peer, tt.h)
			e := explain(t, tt.cfg, r)
			if e.Trust != tt.trust || e.Peer != tt.peer {
				t.Errorf("trust %q peer %q, want %q %q", e.Trust, e.Peer, tt.trust, tt.peer)
			}
			if !reflect.DeepEqual(e.Sources, tt.sources) {
				t.Errorf("sources\n got %v\nwant %v", e.Sources, tt.sources)
			}
			if got := statuses(e); !reflect.DeepEqual(got, tt.statuses) {
				t.Errorf("statuses\n got %v\nwant %v", got, tt.statuses)
			}
			for i, h := range e.Headers {
				if i > 0 && e.Headers[i-1].Name > h.Name {
					t.Errorf("headers not in name order: %s before %s", e.Headers[i-1].Name, h.Name)
				}
				if len(h.Values) == 0 {
					t.Errorf("%s: no values", h.Name)
				}
			}
		})
	}
}

// The values are those that arrived, even when several lines came.
func TestExplanationValuesAsSent(t *testing.T) {
	r := newRequest("GET", "http://b/x", trustedPeer, hdrs{{"X-Forwarded-For", "192.0.2.1"}, {"X-Forwarded-For", "192.0.2.2, 10.0.0.3"}})
	e := explain(t, Middleware{Trusted: testTrusted}, r)
	want := []WireHeader{{Name: "X-Forwarded-For", Values: []string{"192.0.2.1", "192.0.2.2, 10.0.0.3"}, Status: HeaderUsed}}
	if !reflect.DeepEqual(e.Headers, want) {
		t.Errorf("headers %+v, want %+v", e.Headers, want)
	}
}

// Without Explain nothing is recorded.
func TestExplanationOff(t *testing.T) {
	mw, err := NewMiddleware(Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	r := newRequest("GET", "http://b/x", trustedPeer, hdrs{{"X-Forwarded-For", "192.0.2.1"}})
	mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		if e := ExplanationOf(r); e != nil {
			t.Errorf("explanation %+v without Explain", e)
		}
	})).ServeHTTP(httptest.NewRecorder(), r)
	if !called {
		t.Fatal("the application was not called")
	}
}
