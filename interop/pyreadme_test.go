package interop

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeSection returns the fenced code blocks of the README's section
// with the given title, in order, with their languages.
func readmeSection(t *testing.T, title string) (langs, blocks []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("README.md has no section %q", title)
	}
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	for _, m := range regexp.MustCompile("(?s)```(\\w*)\n(.*?)```").FindAllStringSubmatch(text, -1) {
		langs = append(langs, m[1])
		blocks = append(blocks, m[2])
	}
	return langs, blocks
}

// copyTree copies the package's source, without build leftovers.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() && (d.Name() == "__pycache__" || d.Name() == "build" || strings.HasSuffix(d.Name(), ".egg-info") || d.Name() == ".pytest_cache") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPythonReadmeExample runs the README's "Python applications" section
// as written: the offline install into a virtual environment, the Flask
// application, gunicorn and `wsgiproxy proxy` before it, and the curl
// whose answer the README shows (on free ports instead of 9000 and 8080).
func TestPythonReadmeExample(t *testing.T) {
	needPython(t, "setuptools") // alone: pip imported first would break its distutils hook
	needPython(t, "venv", "ensurepip", "pip")
	needPython(t, "flask", "gunicorn", "paste.deploy")
	langs, blocks := readmeSection(t, "Python applications")
	if strings.Join(langs, " ") != "sh python sh" {
		t.Fatalf("README's Python section has blocks %q, want sh, python, sh", langs)
	}
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "python"), filepath.Join(dir, "python"))
	env := []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=" + dir, "PYTHONDONTWRITEBYTECODE=1", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"}

	// The install, line by line, as a user would type it.
	for _, line := range strings.Split(strings.TrimSpace(blocks[0]), "\n") {
		cmd := exec.Command("/bin/bash", "-c", line)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(blocks[1]), 0o644); err != nil {
		t.Fatal(err)
	}

	run := strings.Split(strings.TrimSpace(blocks[2]), "\n")
	if len(run) != 3 {
		t.Fatalf("README's run block has %d lines, want 3 (gunicorn, wsgiproxy, curl)", len(run))
	}
	const appAddr, frontAddr = "127.0.0.1:9000", "127.0.0.1:8080"
	words := func(line, first string) []string {
		w := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), "&"))
		if len(w) == 0 || w[0] != first {
			t.Fatalf("README line %q does not start with %s", line, first)
		}
		return w
	}

	// gunicorn from the virtual environment, on a free port.
	g := words(run[0], "venv/bin/python")
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	for i := range g {
		g[i] = strings.ReplaceAll(g[i], appAddr, addr)
	}
	gcmd := exec.Command(filepath.Join(dir, g[0]), g[1:]...)
	gcmd.Dir, gcmd.Env = dir, env
	backend := startPeer(t, "README gunicorn", addr, gcmd)

	// The front, listening where startWsgiproxy says.
	w := words(run[1], "wsgiproxy")
	var args []string
	for i := 1; i < len(w); i++ {
		if w[i] == "--listen" {
			i++
			continue
		}
		args = append(args, strings.ReplaceAll(w[i], appAddr, backend.addr))
	}
	front := startWsgiproxy(t, args...)

	// curl, from 127.0.0.1 with the Host of the README's URL.
	c := words(run[2], "curl")
	url, comment, ok := strings.Cut(strings.Join(c[1:], " "), "#")
	if !ok {
		t.Fatalf("README's curl line %q shows no answer", run[2])
	}
	req, err := http.NewRequest(http.MethodGet, strings.Replace(strings.TrimSpace(url), frontAddr, front.addr, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = frontAddr
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := strings.TrimSpace(comment) + "\n"; resp.StatusCode != http.StatusOK || string(body) != want {
		t.Errorf("the README's curl: %d %q, want 200 %q", resp.StatusCode, body, want)
	}

	// The PasteDeploy entry point of the installed distribution.
	ini := filepath.Join(dir, "paste.ini")
	os.WriteFile(ini, []byte("[pipeline:main]\npipeline = wsgiproxy app\n\n[filter:wsgiproxy]\nuse = egg:wsgiproxy-restore#middleware\ntrusted = 127.0.0.1 10.0.0.0/8\nprefix = /mnt\n\n[app:app]\nuse = call:app:make_app\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "pasteapp.py"), []byte(
		"import sys\nsys.path.insert(0, '.')\nimport app\napp.make_app = lambda global_conf, **kw: app.app\n"+
			"from paste.deploy import loadapp\nmw = loadapp('config:"+ini+"')\n"+
			"print(type(mw).__module__, type(mw).__name__, [str(n) for n in mw.options.networks], mw.options.prefix)\n"), 0o644)
	pcmd := exec.Command(filepath.Join(dir, "venv", "bin", "python"), "pasteapp.py")
	pcmd.Dir, pcmd.Env = dir, env
	out, err := pcmd.CombinedOutput()
	if want := "wsgiproxy_restore.wsgi WSGIProxyMiddleware ['127.0.0.1/32', '10.0.0.0/8'] /mnt\n"; err != nil || string(out) != want {
		t.Errorf("paste filter from the installed distribution: %v %q, want %q", err, out, want)
	}
}
