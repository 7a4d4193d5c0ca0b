package observe

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1server"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// collector keeps a copy of every record it is given.
type collector struct {
	mu      sync.Mutex
	started int
	recs    []Record
	got     chan struct{}
}

func newCollector() *collector { return &collector{got: make(chan struct{}, 100)} }

func (c *collector) Started(r *Record) {
	c.mu.Lock()
	c.started++
	c.mu.Unlock()
}

func (c *collector) Observe(r *Record) {
	c.mu.Lock()
	c.recs = append(c.recs, *r)
	c.mu.Unlock()
	c.got <- struct{}{}
}

// next waits for the next record.
func (c *collector) next(t *testing.T) Record {
	t.Helper()
	select {
	case <-c.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no record")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recs[len(c.recs)-1]
}

// servers runs a handler behind the lean server and net/http's.
var servers = map[string]func(h http.Handler) (url string, stop func()){
	"lean": func(h http.Handler) (string, func()) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		s := &h1server.Server{Handler: h}
		go s.Serve(ln)
		return "http://" + ln.Addr().String(), func() { s.Close() }
	},
	"std": func(h http.Handler) (string, func()) {
		s := httptest.NewServer(h)
		return s.URL, s.Close
	},
}

// TestHandlerRecords checks the record of requests that end in each way,
// behind both servers.
func TestHandlerRecords(t *testing.T) {
	app := http.NewServeMux()
	app.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		wsgiproxy.TraceOf(r.Context()).Upstream = "http://up"
		io.WriteString(w, "hello")
	})
	app.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(strings.Repeat("x", int(n/2))))
	})
	app.HandleFunc("/nothing", func(w http.ResponseWriter, r *http.Request) {})
	app.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	app.HandleFunc("/abort-mid-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 5000))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	app.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			w.Write([]byte("chunk"))
			http.NewResponseController(w).Flush()
		}
	})
	for name, serve := range servers {
		t.Run(name, func(t *testing.T) {
			c := newCollector()
			url, stop := serve(Handler(RequestIDs{}.Wrap(app), c, nil))
			defer stop()
			for _, tc := range []struct {
				method, path, body string
				status             int
				in, out            int64
				aborted            bool
			}{
				{"GET", "/hello?a=1", "", 200, 0, 5, false},
				{"POST", "/upload", strings.Repeat("y", 100), 201, 100, 50, false},
				{"GET", "/nothing", "", 200, 0, 0, false},
				{"GET", "/missing", "", 404, 0, 19, false},
				{"GET", "/abort", "", StatusClientClosed, 0, 0, true},
				{"GET", "/abort-mid-body", "", 200, 0, 5000, true},
				{"GET", "/stream", "", 200, 0, 15, false},
			} {
				req, _ := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
				if tc.body == "" {
					req.Body = nil
				}
				req.Header.Set("User-Agent", "test/1")
				resp, err := http.DefaultClient.Do(req)
				var id string
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					id = resp.Header.Get(RequestIDHeader)
				}
				rec := c.next(t)
				if rec.Method != tc.method || rec.Target != tc.path || rec.Proto != "HTTP/1.1" || rec.Status != tc.status ||
					rec.BytesIn != tc.in || rec.BytesOut != tc.out || rec.Aborted != tc.aborted || rec.UserAgent != "test/1" {
					t.Errorf("%s %s: record %+v, want status %d, in %d, out %d, aborted %v", tc.method, tc.path, rec, tc.status, tc.in, tc.out, tc.aborted)
				}
				if len(rec.RequestID) != 32 || (err == nil && id != rec.RequestID) {
					t.Errorf("%s %s: request ID %q, response's %q", tc.method, tc.path, rec.RequestID, id)
				}
				if rec.Duration <= 0 || rec.Start.IsZero() || !rec.ClientAddr().IsLoopback() {
					t.Errorf("%s %s: duration %v, start %v, client %v", tc.method, tc.path, rec.Duration, rec.Start, rec.ClientAddr())
				}
				if want := tc.path == "/hello?a=1"; (rec.Upstream == "http://up") != want {
					t.Errorf("%s %s: upstream %q", tc.method, tc.path, rec.Upstream)
				}
			}
			c.mu.Lock()
			if c.started != len(c.recs) {
				t.Errorf("%d started, %d observed", c.started, len(c.recs))
			}
			c.mu.Unlock()
		})
	}
}

// TestHandlerWriter checks that the wrapped writer keeps what the
// server's writer can do: Flusher, Hijacker, and the ResponseController
// methods reached by Unwrap.
func TestHandlerWriter(t *testing.T) {
	for name, serve := range servers {
		t.Run(name, func(t *testing.T) {
			c := newCollector()
			errs := make(chan error, 10)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
					errs <- err
				}
				if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
					errs <- err
				}
				if _, ok := w.(http.Flusher); !ok {
					errs <- io.ErrShortWrite
				}
				conn, brw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					errs <- err
					return
				}
				defer conn.Close()
				brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nbye")
				brw.Flush()
			})
			url, stop := serve(Handler(h, c))
			defer stop()
			conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("response %v, %v", resp, err)
			}
			rec := c.next(t)
			if rec.Status != 101 || rec.Aborted {
				t.Errorf("record %+v", rec)
			}
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestHandlerNoObserver checks that without observers Handler adds nothing.
func TestHandlerNoObserver(t *testing.T) {
	h := http.NotFoundHandler()
	if got := Handler(h); got == nil {
		t.Fatal("nil handler")
	} else if _, ok := got.(*handler); ok {
		t.Error("Handler with no observer wraps")
	}
	if _, ok := Handler(h, nil).(*handler); ok {
		t.Error("Handler with a nil observer wraps")
	}
}
