package upstream

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer is a DNS server on loopback whose answers a test changes.
type dnsServer struct {
	mu       sync.Mutex
	a        map[string][]string // name -> IPv4 addresses
	srv      map[string][]*dns.SRV
	servfail bool
	addr     string
}

func newDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	d := &dnsServer{a: map[string][]string{}, srv: map[string][]*dns.SRV{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = pc.LocalAddr().String()
	s := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	go s.ActivateAndServe()
	<-started
	t.Cleanup(func() { s.Shutdown() })
	return d
}

func (d *dnsServer) serve(w dns.ResponseWriter, q *dns.Msg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(q)
	if d.servfail {
		m.Rcode = dns.RcodeServerFailure
		w.WriteMsg(m)
		return
	}
	question := q.Question[0]
	name := strings.ToLower(question.Name)
	_, knownA := d.a[name]
	_, knownSRV := d.srv[name]
	if !knownA && !knownSRV {
		m.Rcode = dns.RcodeNameError
	}
	switch question.Qtype {
	case dns.TypeA:
		for _, ip := range d.a[name] {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(ip)})
		}
	case dns.TypeSRV:
		for _, s := range d.srv[name] {
			rr := *s
			rr.Hdr = dns.RR_Header{Name: question.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 1}
			m.Answer = append(m.Answer, &rr)
		}
	}
	w.WriteMsg(m)
}

func (d *dnsServer) set(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f()
}

func (d *dnsServer) resolver() *net.Resolver {
	var dialer net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, "udp", d.addr)
	}}
}

func hostNames(p *Pool) []string {
	var names []string
	for _, h := range p.Hosts() {
		names = append(names, h.Name())
	}
	return names
}

func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// syncBuffer is a log destination safe for the pool's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDNSTargetFollowsTheAnswer changes a name's addresses: the pool
// follows within the refresh, a host that stays keeps its state, and a
// failing server leaves the last hosts found in place, logged once.
func TestDNSTargetFollowsTheAnswer(t *testing.T) {
	d := newDNSServer(t)
	d.set(func() { d.a["app.test."] = []string{"127.0.0.2", "127.0.0.3"} })
	tg, err := ParseTarget("dns+http://app.test:9000/app", "")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	const refresh = 50 * time.Millisecond
	p := &Pool{Targets: []Target{tg}, Resolver: d.resolver(), DNSRefresh: refresh, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	defer p.Close()
	want := "http://127.0.0.2:9000/app http://127.0.0.3:9000/app"
	if got := strings.Join(hostNames(p), " "); got != want {
		t.Fatalf("hosts %q, want %q", got, want)
	}
	kept := p.Hosts()[1]
	kept.fails.Store(2) // state that must survive the change

	d.set(func() { d.a["app.test."] = []string{"127.0.0.4", "127.0.0.3"} })
	want = "http://127.0.0.3:9000/app http://127.0.0.4:9000/app"
	if !eventually(4*refresh, func() bool { return strings.Join(hostNames(p), " ") == want }) {
		t.Fatalf("hosts %q after the change, want %q", hostNames(p), want)
	}
	if p.Hosts()[0] != kept || kept.fails.Load() != 2 {
		t.Error("the host that stayed lost its state")
	}
	// The removed host takes no request.
	for range 20 {
		h, err := p.Pick(Request{R: httptest.NewRequest("GET", "/", nil)}, nil)
		if err != nil || h.URL.Host == "127.0.0.2:9000" {
			t.Fatalf("picked %v, %v", h, err)
		}
		p.Done(h, nil)
	}

	d.set(func() { d.servfail = true })
	time.Sleep(5 * refresh)
	if got := strings.Join(hostNames(p), " "); got != want {
		t.Errorf("hosts %q while DNS fails, want the last ones %q", got, want)
	}
	if n := strings.Count(logs.String(), "lookup failed"); n != 1 {
		t.Errorf("the failing lookups were logged %d times, want once:\n%s", n, logs.String())
	}
	d.set(func() { d.servfail = false; d.a["app.test."] = []string{"127.0.0.5"} })
	if !eventually(4*refresh, func() bool { return strings.Join(hostNames(p), " ") == "http://127.0.0.5:9000/app" }) {
		t.Errorf("hosts %q after DNS came back", hostNames(p))
	}
}

// TestSRVTargetTakesWeightsAndPorts: an srv+ target becomes a host per
// record of the best priority, with the record's port and weight.
func TestSRVTargetTakesWeightsAndPorts(t *testing.T) {
	d := newDNSServer(t)
	d.set(func() {
		d.srv["_app._tcp.test."] = []*dns.SRV{
			{Priority: 10, Weight: 1, Port: 9001, Target: "a.test."},
			{Priority: 10, Weight: 3, Port: 9002, Target: "b.test."},
			{Priority: 20, Weight: 5, Port: 9003, Target: "c.test."}, // a standby
		}
		d.a["a.test."] = []string{"127.0.0.2"}
		d.a["b.test."] = []string{"127.0.0.3"}
		d.a["c.test."] = []string{"127.0.0.4"}
	})
	tg, err := ParseTarget("srv+http://_app._tcp.test", "")
	if err != nil {
		t.Fatal(err)
	}
	p := &Pool{Targets: []Target{tg}, Resolver: d.resolver(), Policy: &RoundRobin{}, DNSRefresh: time.Hour}
	defer p.Close()
	got := map[string]int{}
	for _, h := range p.Hosts() {
		got[h.Name()] = h.Weight
	}
	if len(got) != 2 || got["http://127.0.0.2:9001"] != 1 || got["http://127.0.0.3:9002"] != 3 {
		t.Fatalf("hosts %v", got)
	}
	picks := map[string]int{}
	for range 400 {
		h, err := p.Pick(Request{R: httptest.NewRequest("GET", "/", nil)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		picks[h.Name()]++
		p.Done(h, nil)
	}
	if picks["http://127.0.0.2:9001"] != 100 || picks["http://127.0.0.3:9002"] != 300 {
		t.Errorf("picks %v, want 100 and 300", picks)
	}
}
