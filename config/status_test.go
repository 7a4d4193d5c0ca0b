package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

func TestRuntimeRoutes(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "s.secret")
	if err := sign.WriteSecretFile(secret); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(secret)
	keyid := sign.KeyID([]byte(strings.TrimSpace(string(b))))
	f := mustLoad(t, oneListener+`
[routes.api]
path = "/api"
[routes.api.proxy]
to = "http://127.0.0.1:9/app"
secret_files = ["`+secret+`"]
[routes.api.middleware]
trust = ["10.0.0.0/8", "unix"]
trust_standard = ["192.168.0.0/16"]
[routes.sh]
path = "/sh"
[routes.sh.spawn]
command = "sh -c 'exec sleep 100' __PORT__"
[routes.echo]
echo = {}
[routes.echo.middleware]
secret_files = ["`+secret+`"]
`)
	rt, err := NewRuntime(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	routes := rt.Routes()
	if len(routes) != 3 {
		t.Fatalf("%d routes", len(routes))
	}
	api, sh, echo := routes[0], routes[1], routes[2]
	if api.Name != "api" || api.Target != "http://127.0.0.1:9/app" || strings.Join(api.Trusted, " ") != "10.0.0.0/8 unix" ||
		strings.Join(api.TrustedStandard, " ") != "192.168.0.0/16" || api.Sign == nil || api.Verify != nil || api.Spawner != nil {
		t.Errorf("api: %+v", api)
	}
	if api.Sign != nil && strings.Join(api.Sign.KeyIDs(), " ") != keyid {
		t.Errorf("api signs with %v, want %s", api.Sign.KeyIDs(), keyid)
	}
	if sh.Kind != KindSpawn || sh.Target != "sh -c exec sleep 100 __PORT__" || sh.Spawner == nil || sh.Spawner.Status().State != "stopped" {
		t.Errorf("sh: %+v", sh)
	}
	if echo.Target != "" || echo.Verify == nil || strings.Join(echo.Verify.KeyIDs(), " ") != keyid || echo.Sign != nil {
		t.Errorf("echo: %+v", echo)
	}
}
