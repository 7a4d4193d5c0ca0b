package admin

import "testing"

func TestListenAddr(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"9090", "127.0.0.1:9090", ""},
		{":9090", "127.0.0.1:9090", ""},
		{"0", "127.0.0.1:0", ""},
		{"0.0.0.0:9090", "0.0.0.0:9090", ""},
		{"[::1]:9090", "[::1]:9090", ""},
		{"unix:/run/admin.sock", "unix:/run/admin.sock", ""},
		{"unix:", "", `admin: listen "unix:": no socket path`},
		{"70000", "", `admin: listen "70000": port out of range`},
		{"localhost", "", `admin: listen "localhost": want PORT, HOST:PORT or unix:PATH`},
		{"", "", `admin: listen "": want PORT, HOST:PORT or unix:PATH`},
		{"-1", "", `admin: listen "-1": want PORT, HOST:PORT or unix:PATH`},
		{"h:x", "", `admin: listen "h:x": bad port`},
	}
	for _, tt := range tests {
		got, err := ListenAddr(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q, %s", tt.in, got, err, tt.want, tt.err)
		}
	}
}
