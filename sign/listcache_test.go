package sign

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// emptyListCache gives the test an empty inner-list cache, and puts the
// shared one back after.
func emptyListCache(t testing.TB) {
	listsMu.Lock()
	saved := componentLists
	componentLists = map[string][]string{}
	listsMu.Unlock()
	t.Cleanup(func() {
		listsMu.Lock()
		componentLists = saved
		listsMu.Unlock()
	})
}

func cachedLists() map[string][]string {
	listsMu.RLock()
	defer listsMu.RUnlock()
	return maps.Clone(componentLists)
}

// innerListOf returns the inner list our Signature-Input on r starts with.
func innerListOf(t *testing.T, r interface{ Get(string) string }) string {
	t.Helper()
	v := r.Get("Signature-Input")
	start := strings.IndexByte(v, '(')
	end := strings.IndexByte(v, ')')
	if start < 0 || end < start {
		t.Fatalf("Signature-Input %q has no inner list", v)
	}
	return v[start : end+1]
}

// TestComponentCache: the components of a verified signature's inner
// list are cached and then read from there; a list that no verified
// signature had, or that its own text does not give, never is.
func TestComponentCache(t *testing.T) {
	emptyListCache(t)
	s, v, _ := pair(t)

	r := signed(t, s)
	list := innerListOf(t, r.Header)
	tampered := signed(t, s)
	tampered.Header.Set("Signature", "wsgiproxy=:"+strings.Repeat("A", 43)+"=:")
	if _, err := v.Verify(tampered); err == nil {
		t.Fatal("a bad MAC was accepted")
	}
	if n := len(cachedLists()); n != 0 {
		t.Fatalf("a refused signature left %d lists cached", n)
	}

	if ok, err := v.Verify(r); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	cached := cachedLists()[list]
	if len(cached) < len(requiredComponents) {
		t.Fatalf("after a verified signature the cache holds %v, want the components of %s", cachedLists(), list)
	}

	// The next signature of the front is read from the cache, and
	// verifies.
	r2 := signed(t, s)
	sig, err := parseInput(r2.Header.Values("Signature-Input"), Label)
	if err != nil || &sig.components[0] != &cached[0] {
		t.Fatalf("parseInput = %v, %v: want the cached components", sig, err)
	}
	if ok, err := v.Verify(r2); !ok || err != nil {
		t.Fatalf("Verify from the cache = %v, %v", ok, err)
	}

	// Another member after ours: read in full, and still ours.
	r3 := signed(t, s)
	r3.Header.Set("Signature-Input", r3.Header.Get("Signature-Input")+`, other=("@method");keyid="x"`)
	r3.Header.Set("Signature", r3.Header.Get("Signature")+`, other=:AAAA:`)
	if ok, err := v.Verify(r3); !ok || err != nil {
		t.Fatalf("Verify with another member = %v, %v", ok, err)
	}
}

// TestComponentCacheNotPoisoned: our label twice, the first over fewer
// components: the last one counts (RFC 8941), and the first one's text
// must not be cached as naming the last one's components.
func TestComponentCacheNotPoisoned(t *testing.T) {
	emptyListCache(t)
	s, v, _ := pair(t)
	r := signed(t, s)
	first := `("@method" "@path")`
	r.Header.Set("Signature-Input", Label+"="+first+`;created=1, `+r.Header.Get("Signature-Input"))
	if ok, err := v.Verify(r); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if got := cachedLists(); len(got) != 0 {
		t.Errorf("cached %v, want nothing: %s is not the list that was verified", got, first)
	}
}

// TestComponentCacheKeepsNoRequestMemory: the cached text and names are
// copies, not parts of the request head.
func TestComponentCacheKeepsNoRequestMemory(t *testing.T) {
	emptyListCache(t)
	head, kept := requestMemory(`("@method" "@authority" "x-forwarded-for")`)
	p := sfParser{s: head}
	items, err := p.innerList()
	if err != nil {
		t.Fatal(err)
	}
	components, err := componentsOf(items)
	if err != nil {
		t.Fatal(err)
	}
	cacheComponents(head, components)
	head, items, components = "", nil, nil
	if len(cachedLists()) != 1 {
		t.Fatal("the list was not cached")
	}
	if kept() {
		t.Error("the cache keeps the request head")
	}
}

func TestComponentCacheBound(t *testing.T) {
	emptyListCache(t)
	for i := range maxCachedLists + 10 {
		name := fmt.Sprintf("x-wsgiproxy-str-%d", i)
		list := `("@method" "` + name + `")`
		cacheComponents(list, []string{"@method", name})
		// A list whose text says otherwise is never cached.
		cacheComponents(`("@method")`, []string{"@method", name})
	}
	got := cachedLists()
	if len(got) != maxCachedLists {
		t.Errorf("%d lists cached, want the bound %d", len(got), maxCachedLists)
	}
	if c, ok := got[`("@method")`]; ok {
		t.Errorf(`("@method") cached as %v`, c)
	}
}

// FuzzInputCache: whatever follows a cached inner list, parseInput reads
// the field as the full parse does, errors included.
func FuzzInputCache(f *testing.F) {
	for _, rest := range []string{
		`;created=1700000000;nonce="n";keyid="k";alg="hmac-sha256"`,
		`;created="x"`, `;created=1;created=2`, `;created`, `;Created=1`,
		``, ` `, `;`, `, other=?1`, `,`, `;created=1 `, `;a=(1)`, `;nonce="a\"b"`,
	} {
		f.Add(rest)
	}
	list := `("@method" "@authority" "@path" "@query" "x-forwarded-for")`
	emptyListCache(f)
	cacheComponents(list, []string{"@method", "@authority", "@path", "@query", "x-forwarded-for"})
	if cachedComponents(list) == nil {
		f.Fatal("the list was not cached")
	}
	f.Fuzz(func(t *testing.T, rest string) {
		inputs := []string{Label + "=" + list + rest}
		got, gotErr := parseInput(inputs, Label)
		want, wantErr := parseFullInput(inputs, Label)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: cached %v, full %v", inputs[0], gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		got.list, want.list = "", ""
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: cached %+v, full %+v", inputs[0], got, want)
		}
	})
}
