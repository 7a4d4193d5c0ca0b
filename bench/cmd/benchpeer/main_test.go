package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestBackendAndReverseProxy(t *testing.T) {
	be := httptest.NewServer(backend())
	defer be.Close()
	u, _ := url.Parse(be.URL)
	rp := httptest.NewServer(reverseProxy(u))
	defer rp.Close()
	tests := []struct {
		method, path, body string
		wantLen            int
		wantCL             int64
	}{
		{"GET", "/small", "", len(smallBody), int64(len(smallBody))},
		{"GET", "/large", "", largeSize, largeSize},
		{"GET", "/stream?bytes=100000", "", 100000, -1},
		{"POST", "/upload", strings.Repeat("u", 70000), len("70000\n"), -1},
	}
	for _, base := range []string{be.URL, rp.URL} {
		for _, tc := range tests {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(b) != tc.wantLen {
				t.Errorf("%s %s%s: %d, %d bytes, want %d", tc.method, base, tc.path, resp.StatusCode, len(b), tc.wantLen)
			}
			if tc.wantCL >= 0 && resp.ContentLength != tc.wantCL {
				t.Errorf("%s%s: Content-Length %d, want %d", base, tc.path, resp.ContentLength, tc.wantCL)
			}
		}
	}
}
