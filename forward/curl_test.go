package forward

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/internal/peertest"
)

// curlPath returns curl's path; without curl the test fails under CI=true
// and is skipped otherwise.
func curlPath(t *testing.T) string {
	path, err := exec.LookPath("curl")
	if err != nil {
		peertest.Missing(t, "curl: %v", err)
	}
	return path
}

// curl runs curl through proxy and returns its output: the body, then
// the status code on the last line.
func curl(t *testing.T, args ...string) (string, error) {
	cmd := exec.Command(curlPath(t), append([]string{"-sS", "--max-time", "10", "--noproxy", "", "-w", "\n%{http_code}"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()} // no *_proxy variables
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCurl(t *testing.T) {
	curlPath(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain "+r.Host+" "+r.Header.Get("Proxy-Authorization"))
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure "+r.URL.Path)
	}))
	defer secure.Close()
	cacert := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(cacert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	users := writeAuthFile(t, "alice:wonderland")
	open := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}}))
	authed := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}, AuthFile: users}))
	host := strings.TrimPrefix(plain.URL, "http://")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"plain", []string{"-x", open.String(), plain.URL}, "plain " + host + " \n200"},
		{"CONNECT", []string{"-x", open.String(), "--cacert", cacert, secure.URL + "/x"}, "secure /x\n200"},
		{"proxytunnel for http", []string{"-p", "-x", open.String(), plain.URL}, "plain " + host + " \n200"},
		{"no credentials", []string{"-x", authed.String(), plain.URL}, "forward: proxy authentication required\n\n407"},
		{"credentials", []string{"-x", authed.String(), "--proxy-user", "alice:wonderland", plain.URL}, "plain " + host + " \n200"},
		{"credentials CONNECT", []string{"-x", authed.String(), "--proxy-user", "alice:wonderland", "--cacert", cacert, secure.URL + "/y"}, "secure /y\n200"},
		{"denied", []string{"-x", open.String(), "http://localhost:1/"}, "forward: no --allow pattern matches localhost:1\n\n403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := curl(t, tc.args...)
			if err != nil || out != tc.want {
				t.Errorf("curl %s: %v\n got %q\nwant %q", strings.Join(tc.args, " "), err, out, tc.want)
			}
		})
	}
}
